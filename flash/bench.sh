#!/usr/bin/env bash
# Measures flash+verify of a 1 GiB gzip image to a file against the admin's
# pipeline (pigz | dd conv=fsync; drop caches; sha256sum) and against the
# file system's limit (dd of the raw image with fsync plus a cold read), and
# prints both ratios as medians of BENCH_ROUNDS rounds (default 3), the order
# of the three runs rotating each round. Needs root (drop_caches) and pigz.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench 'BenchmarkFlashVsPipeline' -benchtime ${BENCH_ROUNDS:-3}x ./flash/
