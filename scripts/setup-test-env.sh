#!/usr/bin/env bash
# Prepares what the tests need on a fresh Debian 12 machine, only where it is missing:
#   - Debian's Chromium (headless WebGPU through SwiftShader) and libvulkan1 / libllvm15 from apt;
#   - Mesa 25 lavapipe (a Vulkan driver on the CPU that Dawn accepts; Debian 12's own Mesa 22 is too old)
#     from bookworm-backports, unpacked into .cache/lavapipe without touching the system's apt sources.
# The Debian mirror is read from the system's own apt configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="$PWD/.cache/lavapipe"

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
dpkg -s libvulkan1 >/dev/null 2>&1 || need_apt+=(libvulkan1)
dpkg -s libllvm15 >/dev/null 2>&1 || need_apt+=(libllvm15)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} from apt"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

LVP="$DEST/root/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so"
if [ -f "$DEST/lvp_icd.json" ] && [ -f "$LVP" ]; then
  exit 0
fi
echo "setup: fetching Mesa lavapipe from bookworm-backports into .cache/lavapipe"
mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '$1=="deb" && $3 ~ /^bookworm/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || { echo "setup: no Debian mirror found in the apt configuration" >&2; exit 1; }
rm -rf "$DEST"
mkdir -p "$DEST/apt/lists/partial" "$DEST/apt/cache/archives/partial" "$DEST/debs" "$DEST/root"
echo "deb $mirror bookworm-backports main" > "$DEST/apt/sources.list"
A=(-o Dir::Etc::sourcelist="$DEST/apt/sources.list" -o Dir::Etc::sourceparts=/nonexistent
  -o Dir::State::Lists="$DEST/apt/lists" -o Dir::Cache="$DEST/apt/cache")
apt-get "${A[@]}" update -qq
candidate() { apt-cache "${A[@]}" policy "$1" | awk '/Candidate/{print $2}'; }
(cd "$DEST/debs" && apt-get "${A[@]}" download \
  "mesa-vulkan-drivers=$(candidate mesa-vulkan-drivers)" \
  "libdrm2=$(candidate libdrm2)" "libdrm-amdgpu1=$(candidate libdrm-amdgpu1)" 2>&1 | grep -v unsandboxed || true)
for f in "$DEST"/debs/*.deb; do dpkg-deb -x "$f" "$DEST/root"; done
[ -f "$LVP" ] || { echo "setup: lavapipe library missing after unpacking" >&2; exit 1; }
cat > "$DEST/lvp_icd.json" <<JSON
{"file_format_version": "1.0.1", "ICD": {"library_path": "$LVP", "api_version": "1.4.305"}}
JSON
rm -rf "$DEST/apt" "$DEST/debs"
echo "setup: lavapipe ready ($(ls "$DEST/root/usr/share/doc" | grep -c .) packages)"
