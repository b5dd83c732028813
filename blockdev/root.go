package blockdev

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// RootDisk returns the kernel name of the physical disk that holds the
// root file system: the device of / from mountinfo, its parent disk if it
// is a partition, and below device-mapper or md layers the one disk their
// slaves lead to. It fails if / is not on a block device or spans several
// disks.
func RootDisk(procRoot, sysRoot string) (string, error) {
	devno, err := rootDevno(filepath.Join(procRoot, "self", "mountinfo"))
	if err != nil {
		return "", fmt.Errorf("finding the root disk: %w", err)
	}
	dev, err := filepath.EvalSymlinks(filepath.Join(sysRoot, "dev", "block", devno))
	if err != nil {
		return "", fmt.Errorf("finding the root disk: resolving device %s: %w", devno, err)
	}
	disks := map[string]bool{}
	if err := physicalDisks(dev, disks, 0); err != nil {
		return "", fmt.Errorf("finding the root disk: %w", err)
	}
	names := make([]string, 0, len(disks))
	for n := range disks {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) != 1 {
		return "", fmt.Errorf("finding the root disk: / spans %d disks (%s)",
			len(names), strings.Join(names, ", "))
	}
	return names[0], nil
}

// rootDevno returns major:minor of the topmost mount of / in mountinfo.
func rootDevno(mountinfo string) (string, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return "", fmt.Errorf("reading mount table: %w", err)
	}
	defer f.Close()
	devno := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint options ... - fstype source opts
		fields := strings.Fields(sc.Text())
		if len(fields) >= 5 && fields[4] == "/" {
			devno = fields[2] // a later mount of / hides an earlier one
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("reading %s: %w", mountinfo, err)
	}
	if devno == "" {
		return "", fmt.Errorf("reading %s: no mount of /", mountinfo)
	}
	if strings.HasPrefix(devno, "0:") {
		return "", fmt.Errorf("/ is on device %s, not a block device "+
			"(tmpfs, overlay, network or btrfs subvolume root)", devno)
	}
	return devno, nil
}

// maxDepth bounds the walk through stacked dm/md devices.
const maxDepth = 8

// physicalDisks adds to disks the whole disks under sysfs device dir dev.
func physicalDisks(dev string, disks map[string]bool, depth int) error {
	if depth > maxDepth {
		return errors.New("device stack deeper than 8 layers")
	}
	if _, err := os.Stat(filepath.Join(dev, "partition")); err == nil {
		dev = filepath.Dir(dev) // a partition's directory sits in its disk's
	}
	slaves, err := os.ReadDir(filepath.Join(dev, "slaves"))
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("listing slaves of %s: %w", filepath.Base(dev), err)
	}
	if len(slaves) == 0 {
		disks[filepath.Base(dev)] = true
		return nil
	}
	for _, s := range slaves {
		next, err := filepath.EvalSymlinks(filepath.Join(dev, "slaves", s.Name()))
		if err != nil {
			return fmt.Errorf("resolving slave %s of %s: %w", s.Name(), filepath.Base(dev), err)
		}
		if err := physicalDisks(next, disks, depth+1); err != nil {
			return err
		}
	}
	return nil
}
