// Package blockdev reads block devices' identity and layout from sysfs and
// finds the disk a plan names, the partitions the kernel sees on it and the
// disk that holds the root file system. Every reader takes the sysfs (and
// procfs) root as an argument so tests run against fake trees.
package blockdev

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/takeover-dev/takeover/plan"
)

// Identify reads the identity of block device name (a kernel name such as
// vda or nvme0n1) from sysfs under sysRoot.
func Identify(sysRoot, name string) (plan.DiskIdentity, error) {
	id := plan.DiskIdentity{Name: name}
	dir := filepath.Join(sysRoot, "class", "block", name)
	path, err := devicePath(sysRoot, dir)
	if err != nil {
		return id, fmt.Errorf("identifying block device %s: %w", name, err)
	}
	id.SysfsPath = path

	sectors, err := readInt(filepath.Join(dir, "size"))
	if err != nil {
		return id, fmt.Errorf("identifying block device %s: %w", name, err)
	}
	id.Size = sectors * 512 // sysfs counts 512-byte units whatever the sector size

	lbs, err := readInt(filepath.Join(dir, "queue", "logical_block_size"))
	if err != nil {
		return id, fmt.Errorf("identifying block device %s: %w", name, err)
	}
	id.LogicalSectorSize = int(lbs)

	id.Serial = firstAttr(dir, "device/serial", "serial")
	id.WWN = firstAttr(dir, "wwid", "device/wwid", "device/wwn")
	id.Model = firstAttr(dir, "device/model")
	return id, nil
}

// devicePath resolves a /sys/class/block entry to its device path relative
// to the sysfs root, e.g. /devices/pci0000:00/0000:00:04.0/virtio1/block/vda.
func devicePath(sysRoot, entry string) (string, error) {
	root, err := filepath.EvalSymlinks(sysRoot)
	if err != nil {
		return "", fmt.Errorf("resolving sysfs root %s: %w", sysRoot, err)
	}
	target, err := filepath.EvalSymlinks(entry)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", entry, err)
	}
	rel, err := filepath.Rel(root, target)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("resolving %s: %s lies outside %s", entry, target, root)
	}
	return "/" + filepath.ToSlash(rel), nil
}

// firstAttr returns the first non-empty attribute among names under dir,
// with surrounding blanks removed (SCSI pads model and serial with spaces).
func firstAttr(dir string, names ...string) string {
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			continue
		}
		if v := strings.TrimSpace(string(b)); v != "" {
			return v
		}
	}
	return ""
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing %s: %w", path, err)
	}
	return n, nil
}

// Match reports every field in which got differs from want, or nil.
//
// Size and logical sector size must always agree. Serial, WWN and model
// must agree where want knows them. The sysfs path must agree too, with
// one exception: a disk whose serial or WWN (as recorded in want) and size
// both match is the same disk even if it sits at another sysfs path, as
// happens when a kexec'd kernel enumerates a bus in another order. See
// PathMoved to log that case.
func Match(want, got plan.DiskIdentity) error {
	var diffs []string
	add := func(field string, g, w any) {
		diffs = append(diffs, fmt.Sprintf("%s %v, want %v", field, g, w))
	}
	if got.Size != want.Size {
		add("size", got.Size, want.Size)
	}
	if got.LogicalSectorSize != want.LogicalSectorSize {
		add("logical sector size", got.LogicalSectorSize, want.LogicalSectorSize)
	}
	if want.Serial != "" && got.Serial != want.Serial {
		add("serial", quote(got.Serial), quote(want.Serial))
	}
	if want.WWN != "" && got.WWN != want.WWN {
		add("wwn", quote(got.WWN), quote(want.WWN))
	}
	if want.Model != "" && got.Model != want.Model {
		add("model", quote(got.Model), quote(want.Model))
	}
	if got.SysfsPath != want.SysfsPath && (len(diffs) > 0 || !uniquelyNamed(want)) {
		add("sysfs path", got.SysfsPath, want.SysfsPath)
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%s differs: %s", got.Name, strings.Join(diffs, "; "))
	}
	return nil
}

// PathMoved reports whether Match accepted got although its sysfs path
// differs from want's (on serial or WWN plus size).
func PathMoved(want, got plan.DiskIdentity) bool {
	return got.SysfsPath != want.SysfsPath && Match(want, got) == nil
}

// uniquelyNamed says whether want carries an identifier unique to one
// piece of hardware, so that its sysfs path may change.
func uniquelyNamed(want plan.DiskIdentity) bool {
	return want.Serial != "" || want.WWN != ""
}

func quote(s string) string { return strconv.Quote(s) }

// ErrNotFound means no disk under /sys/class/block matches the identity.
var ErrNotFound = errors.New("no disk matches")
