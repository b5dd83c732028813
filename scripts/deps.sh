#!/usr/bin/env bash
# Installs the host tools the VM harness and the demo need, on Debian.
# Idempotent: packages already installed are skipped and apt-get update runs
# at most once, only when something is missing.
#
# usage: scripts/deps.sh
set -euo pipefail

packages=(
  qemu-system-x86 qemu-utils mmdebstrap e2fsprogs dosfstools mtools fdisk
  gdisk busybox-static cpio libarchive-tools pigz zstd xz-utils kmod ovmf
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "deps: installing ${missing[*]}" >&2
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >&2
fi

command -v go >/dev/null || { echo "deps: go is not on PATH (need Go 1.26)" >&2; exit 1; }
