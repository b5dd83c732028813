#!/usr/bin/env bash
# make bench: the performance targets, each measured against the shell
# pipeline a careful admin would write, on 1 GiB images built once and
# cached under ${TAKEOVER_CACHE:-~/.cache/takeover}/bench. Timings on a
# shared machine are noisy: compare ratios from the same run only.
set -euo pipefail
cd "$(dirname "$0")/.."

run() {
  echo "== $1"
  shift
  go test -run '^$' "$@" 2>&1 | grep -vE '^(goos|goarch|pkg|cpu):'
}

run "validate a 1 GiB gzip image (target: <= 0.85x of pigz -dc | sha256sum)" \
  -bench 'Validate1GiB' -benchtime 1x ./image/
run "build-initrd of a validated 1 GiB image (targets: <= 1.2x of cp+sync, peak RSS <= 64 MiB)" \
  -bench 'BuildInitrd' -benchtime 3x ./initramfs/
run "flash + verify a 1 GiB gzip image to a file (targets: <= 0.5x of the admin pipeline, <= 1.3x of the limit)" \
  -bench 'Flash' -benchtime 1x ./flash/
