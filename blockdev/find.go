package blockdev

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/takeover-dev/takeover/plan"
)

// pollInterval is how often WaitFind looks again.
const pollInterval = 250 * time.Millisecond

// Disks lists the whole disks (not partitions) under /sys/class/block.
func Disks(sysRoot string) ([]string, error) {
	dir := filepath.Join(sysRoot, "class", "block")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "partition")); err == nil {
			continue
		}
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names, nil
}

// Find returns the kernel name of the one whole disk that matches want. It
// fails if none matches (naming why each candidate was refused) or if more
// than one does.
func Find(sysRoot string, want plan.DiskIdentity) (string, error) {
	names, err := Disks(sysRoot)
	if err != nil {
		return "", fmt.Errorf("finding disk %s: %w", want.SysfsPath, err)
	}
	var found, refused []string
	for _, name := range names {
		got, err := Identify(sysRoot, name)
		if err == nil {
			err = Match(want, got)
		}
		if err != nil {
			refused = append(refused, err.Error())
			continue
		}
		found = append(found, name)
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("finding disk %s: %w (%s)", want.SysfsPath, ErrNotFound,
			strings.Join(refused, " | "))
	default:
		return "", fmt.Errorf("finding disk %s: %d disks match (%s); "+
			"the plan needs a serial or WWN to tell them apart",
			want.SysfsPath, len(found), strings.Join(found, ", "))
	}
}

// WaitFind calls Find until it succeeds, ctx ends or timeout passes, for
// drivers that are still probing. It returns the last error on timeout.
// Ambiguity is final: waiting cannot make two matching disks one.
func WaitFind(ctx context.Context, sysRoot string, want plan.DiskIdentity,
	timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		name, err := Find(sysRoot, want)
		if err == nil || !errors.Is(err, ErrNotFound) {
			return name, err
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("waited %s: %w", timeout, err)
		case <-t.C:
		}
	}
}

// IsBlockDevice reports whether path is a block device node.
func IsBlockDevice(path string) (bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return false, fmt.Errorf("checking %s: %w", path, err)
	}
	m := fi.Mode()
	return m&os.ModeDevice != 0 && m&os.ModeCharDevice == 0, nil
}
