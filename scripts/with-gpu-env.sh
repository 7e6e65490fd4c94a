#!/usr/bin/env bash
# Runs a command with Dawn pointed at the project's lavapipe driver, unless the caller chose a Vulkan
# driver already (VK_ICD_FILENAMES set, for example a real GPU's ICD).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/.cache/lavapipe"
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -z "${VK_DRIVER_FILES:-}" ]; then
  if [ ! -f "$DEST/lvp_icd.json" ]; then
    echo "no Vulkan driver chosen and none prepared: run 'npm run setup:test' first" >&2
    exit 1
  fi
  export VK_ICD_FILENAMES="$DEST/lvp_icd.json"
  export LD_LIBRARY_PATH="$DEST/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export LORABOOK_EXPECT_ADAPTER="${LORABOOK_EXPECT_ADAPTER:-llvmpipe}"
fi
exec "$@"
