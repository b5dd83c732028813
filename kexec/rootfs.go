package kexec

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// RootfsMargin is the memory kept free beyond the payload, in bytes: room
// for the new kernel itself and its slab caches, stage2's Go heap, its I/O
// buffers and decompressor window, and dirty pages of the disk being written.
// TODO: 128 MiB is an estimate; measure stage2's peak use under QEMU with a
// large image and set this from the figure.
const RootfsMargin = 128 << 20

// ChooseRootfs decides whether the initramfs must unpack into ramfs instead
// of the default tmpfs, given the initramfs size in bytes (an uncompressed
// cpio unpacks to about its own size) and /proc/meminfo's MemTotal and
// MemAvailable in bytes. It refuses up front when the payload cannot fit:
//
//   - Loading: kexec_file_load reads the initrd into a kernel buffer and
//     copies it into pages held until the jump, so the old OS needs twice the
//     payload available, plus RootfsMargin to keep running meanwhile.
//   - Unpacking: the new kernel holds the initrd in memory while it unpacks
//     the files out of it, so it needs twice the payload plus RootfsMargin.
//   - tmpfs caps rootfs at half of RAM; it is chosen when the payload plus
//     RootfsMargin fits under that cap, ramfs (uncapped) otherwise.
func ChooseRootfs(payloadBytes, memTotal, memAvailable int64) (ramfs bool, err error) {
	if payloadBytes <= 0 || memTotal <= 0 {
		return false, fmt.Errorf("sizing rootfs: payload %d bytes, memory %d bytes: "+
			"both must be positive", payloadBytes, memTotal)
	}
	if need := 2*payloadBytes + RootfsMargin; need > memAvailable {
		return false, fmt.Errorf("sizing rootfs: loading a %s initramfs needs %s available, "+
			"the old OS has %s: stop services to free memory or build a smaller payload",
			mib(payloadBytes), mib(need), mib(memAvailable))
	}
	if need := 2*payloadBytes + RootfsMargin; need > memTotal {
		return false, fmt.Errorf("sizing rootfs: unpacking a %s initramfs needs %s of RAM, "+
			"the machine has %s: build a smaller payload", mib(payloadBytes), mib(need), mib(memTotal))
	}
	return payloadBytes+RootfsMargin > memTotal/2, nil
}

func mib(n int64) string { return fmt.Sprintf("%d MiB", n>>20) }

// MemInfo returns MemTotal and MemAvailable in bytes from procRoot/meminfo.
func MemInfo(procRoot string) (total, available int64, err error) {
	path := filepath.Join(procRoot, "meminfo")
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, fmt.Errorf("reading memory sizes: %w", err)
	}
	fields := map[string]int64{}
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		// "MemTotal:        8038292 kB"
		f := bytes.Fields(s.Bytes())
		if len(f) != 3 || string(f[2]) != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			continue
		}
		fields[string(bytes.TrimSuffix(f[0], []byte(":")))] = kb << 10
	}
	total, ok1 := fields["MemTotal"]
	available, ok2 := fields["MemAvailable"]
	if !ok1 || !ok2 {
		return 0, 0, fmt.Errorf("reading memory sizes: %s lacks MemTotal or MemAvailable", path)
	}
	return total, available, nil
}
