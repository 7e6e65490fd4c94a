#!/usr/bin/env bash
# The whole test suite, as the README's test command and CI run it:
#   setup (apt Chromium/libvulkan1 and the project's lavapipe, only where missing), static checks
#   (tsc, svelte-check, ESLint, Prettier), Node tests on Dawn + lavapipe, browser tests in Chromium,
#   and e2e on the production build. Every phase runs even after a failure; each prints its time, and
#   the last line sums all runners: "N passed, N failed" (each static check counts as one).
set -uo pipefail
cd "$(dirname "$0")/.."
export ONNXRUNTIME_NODE_INSTALL=skip
RESULTS=.cache/test-results
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
failed_phases=()
checks_passed=0
checks_failed=0

phase() { # phase NAME COMMAND... : runs and times one phase
  local name=$1
  shift
  local t0=$SECONDS
  echo "=== $name"
  if "$@"; then
    echo "=== $name: ok in $((SECONDS - t0)) s"
    return 0
  fi
  echo "=== $name: FAILED in $((SECONDS - t0)) s"
  failed_phases+=("$name")
  return 1
}

check() { # a static check counts as one test
  if phase "$@"; then checks_passed=$((checks_passed + 1)); else checks_failed=$((checks_failed + 1)); fi
}

if [ ! -d node_modules ]; then phase "install (npm ci)" npm ci --no-audit --no-fund || exit 1; fi
phase "setup (Chromium, libvulkan1, lavapipe)" bash scripts/setup-test-env.sh || {
  echo "0 passed, 1 failed"
  exit 1
}

check "tsc" npx tsc --noEmit -p tsconfig.json
check "svelte-check" npx svelte-check --tsconfig ./tsconfig.json --fail-on-warnings --output machine
check "eslint" npx eslint --max-warnings 0 .
check "prettier" npx prettier --check --log-level warn .

phase "node tests (Dawn + lavapipe)" bash scripts/with-gpu-env.sh npx vitest run --project node \
  --reporter=default --reporter=json --outputFile.json="$RESULTS/node.json"
phase "browser tests (Chromium WebGPU)" npx vitest run --project browser \
  --reporter=default --reporter=json --outputFile.json="$RESULTS/browser.json"
PLAYWRIGHT_JSON_OUTPUT_NAME="$RESULTS/e2e.json" phase "e2e (Playwright, production build)" \
  npm run --silent test:e2e -- --reporter=list,json

summary=$(node scripts/summarize-tests.mjs "$RESULTS" "$checks_passed" "$checks_failed")
sum_rc=$?
echo "$summary" > "$RESULTS/summary.txt"
if [ ${#failed_phases[@]} -gt 0 ]; then echo "failed phases: ${failed_phases[*]}"; fi
echo "$summary"
[ ${#failed_phases[@]} -eq 0 ] && [ $sum_rc -eq 0 ]
