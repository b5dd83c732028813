#!/usr/bin/env bash
# Runs the end-to-end scenarios (e2e/, build tag e2e) in QEMU under TCG.
# Installs what is missing first and builds (or reuses) the cached old OS.
#
# usage: scripts/e2e.sh                  every scenario
#        E2E_RUN=KexecHappy scripts/e2e.sh   a subset (go test -run)
# env:   TAKEOVER_CACHE (default ~/.cache/takeover) holds the old OS disk.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
export TAKEOVER_CACHE=${TAKEOVER_CACHE:-$HOME/.cache/takeover}
start=$(date +%s)
echo "e2e: old OS: $(scripts/build-oldos.sh "$TAKEOVER_CACHE") ($(( $(date +%s) - start )) s)"

# Serial logs of every VM are kept here for reading after the run.
export E2E_LOG_DIR=${E2E_LOG_DIR:-$TAKEOVER_CACHE/e2e-logs/$(date +%Y%m%d-%H%M%S)}
echo "e2e: serial logs in $E2E_LOG_DIR"

args=(-tags e2e -v -count=1 -timeout "${E2E_TIMEOUT:-60m}")
if [ -n "${E2E_RUN:-}" ]; then
  args+=(-run "$E2E_RUN")
fi
go test "${args[@]}" ./e2e/...
