#!/usr/bin/env bash
# Builds the "old OS" disk for the VM tests: Debian bookworm with systemd and
# the cloud kernel, on a raw disk image (MBR, one ext4 root partition), made
# without root mounts or loop devices (mmdebstrap, sfdisk, mke2fs -d).
#
# The result is cached under CACHE_DIR/oldos-<hash>, where <hash> covers this
# script's text, so editing the recipe rebuilds it. Prints the directory,
# which holds disk.img, vmlinuz, initrd.img and release (the kernel release).
#
# The guest runs /etc/takeover/scenario.sh once, after network-online, from
# takeover-scenario.service, with its output on the serial console. The tests
# write that script (and everything else a scenario needs) into a copy of
# disk.img with debugfs.
#
# usage: scripts/build-oldos.sh [CACHE_DIR]
set -euo pipefail
cache=${1:-${TAKEOVER_CACHE:-$HOME/.cache/takeover}}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

suite=bookworm
disk_mib=1024
packages=systemd-sysv,udev,linux-image-cloud-amd64,initramfs-tools,kmod,iproute2,procps

hash=$( { cat "$0"; echo "$packages"; } | sha256sum | cut -c1-16)
out=$cache/oldos-$hash
if [ -f "$out/.complete" ]; then
  echo "$out"
  exit 0
fi

rm -rf "$out"
mkdir -p "$out"
tree=$out/tree
start=$(date +%s)

# The unit and network settings are part of the base image; scenarios add
# only files.
unit='[Unit]
Description=takeover VM test scenario
Wants=network-online.target
After=network-online.target basic.target
ConditionPathExists=/etc/takeover/scenario.sh

[Service]
Type=oneshot
ExecStartPre=/bin/echo OLD-OS-BOOTED
ExecStart=/bin/bash /etc/takeover/scenario.sh
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target'

network='[Match]
Name=en* eth*

[Network]
DHCP=ipv4'

echo "build-oldos: mmdebstrap $suite ($packages)" >&2
mmdebstrap --variant=minbase --include="$packages" \
  --customize-hook='echo oldos > "$1/etc/hostname"' \
  --customize-hook='echo "/dev/vda1 / ext4 rw,errors=remount-ro 0 1" > "$1/etc/fstab"' \
  --customize-hook="printf '%s\n' '$network' > \"\$1/etc/systemd/network/20-wired.network\"" \
  --customize-hook="printf '%s\n' '$unit' > \"\$1/etc/systemd/system/takeover-scenario.service\"" \
  --customize-hook='chroot "$1" systemctl enable systemd-networkd takeover-scenario.service' \
  --customize-hook='ln -sf /dev/null "$1/etc/systemd/system/serial-getty@ttyS0.service"' \
  --customize-hook='ln -sf /dev/null "$1/etc/systemd/system/getty@tty1.service"' \
  --customize-hook='chroot "$1" passwd -d root' \
  --customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*' \
  "$suite" "$tree" >&2

rel=$(ls "$tree/lib/modules" | head -n1)
[ -f "$tree/boot/vmlinuz-$rel" ] && [ -f "$tree/boot/initrd.img-$rel" ] || {
  echo "build-oldos: no kernel/initrd for $rel in $tree/boot" >&2
  exit 1
}
cp "$tree/boot/vmlinuz-$rel" "$out/vmlinuz"
cp "$tree/boot/initrd.img-$rel" "$out/initrd.img"
echo "$rel" > "$out/release"

echo "build-oldos: making disk.img (${disk_mib} MiB, MBR, ext4 root)" >&2
truncate -s "${disk_mib}M" "$out/disk.img.tmp"
sfdisk -q "$out/disk.img.tmp" <<SFDISK
label: dos
start=2048, type=83, bootable
SFDISK
part_sectors=$(( disk_mib * 2048 - 2048 ))
mke2fs -q -F -t ext4 -L oldroot -E offset=$((2048 * 512)) -d "$tree" \
  "$out/disk.img.tmp" "$(( part_sectors / 2 ))k"
mv "$out/disk.img.tmp" "$out/disk.img"
rm -rf "$tree"
touch "$out/.complete"
echo "build-oldos: done in $(( $(date +%s) - start )) s" >&2
echo "$out"
