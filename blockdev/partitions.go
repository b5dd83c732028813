package blockdev

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Part is a partition as the kernel sees it.
type Part struct {
	Name   string // kernel name, e.g. vda1 or nvme0n1p1
	Number int    // partition number
	Start  int64  // byte offset from the start of the disk
	Size   int64  // bytes
}

// Partitions lists the partitions of disk from /sys/class/block/<disk>,
// ordered by number.
func Partitions(sysRoot, disk string) ([]Part, error) {
	dir := filepath.Join(sysRoot, "class", "block", disk)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing partitions of %s: %w", disk, err)
	}
	var parts []Part
	for _, e := range entries {
		sub := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(sub, "partition")); err != nil {
			continue
		}
		p, err := readPart(sub, e.Name())
		if err != nil {
			return nil, fmt.Errorf("listing partitions of %s: %w", disk, err)
		}
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	return parts, nil
}

func readPart(dir, name string) (Part, error) {
	num, err := readInt(filepath.Join(dir, "partition"))
	if err != nil {
		return Part{}, err
	}
	start, err := readInt(filepath.Join(dir, "start"))
	if err != nil {
		return Part{}, err
	}
	size, err := readInt(filepath.Join(dir, "size"))
	if err != nil {
		return Part{}, err
	}
	// sysfs counts start and size in 512-byte units whatever the sector size.
	return Part{Name: name, Number: int(num), Start: start * 512, Size: size * 512}, nil
}
