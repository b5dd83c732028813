#!/usr/bin/env bash
# Fetches Debian's cloud kernel package (without installing it on this host)
# and unpacks it into a cache directory. Prints the kernel image path; the
# modules are beside it under lib/modules/<release>/.
#
# usage: scripts/fetch-kernel.sh CACHE_DIR
set -euo pipefail
cache=${1:?usage: fetch-kernel.sh CACHE_DIR}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
if [ -z "$pkg" ]; then
  apt-get update -q >/dev/null
  pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
fi
[ -n "$pkg" ] || { echo "fetch-kernel: cannot resolve linux-image-cloud-amd64" >&2; exit 1; }

dir=$cache/$pkg
if [ ! -f "$dir/.complete" ]; then
  rm -rf "$dir" "$cache/deb.tmp"
  mkdir -p "$cache/deb.tmp"
  (cd "$cache/deb.tmp" && apt-get download -q "$pkg" >&2)
  dpkg-deb -x "$cache"/deb.tmp/"$pkg"_*.deb "$dir"
  rm -rf "$cache/deb.tmp"
  # modules.dep is made by depmod at install time; the package does not ship it.
  rel=${pkg#linux-image-}
  depmod -b "$dir" "$rel"
  touch "$dir/.complete"
fi
ls "$dir"/boot/vmlinuz-*
