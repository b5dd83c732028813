// Package kmod finds the kernel modules stage2 needs from the running kernel
// (the target disk's drivers, file systems, the watchdog) with their
// dependencies in load order, and loads them in stage2.
package kmod

import (
	"path"
	"strings"
)

// Module is a loadable kernel module of the running kernel.
type Module struct {
	Name string // normalised name, e.g. virtio_blk
	Path string // relative to the modules directory, e.g. kernel/drivers/block/virtio_blk.ko
}

// moduleName normalises a module name: '-' and '_' are the same to the kernel.
func moduleName(s string) string { return strings.ReplaceAll(s, "-", "_") }

// nameFromPath returns the module name of a path like
// kernel/fs/nls/nls_iso8859-1.ko.xz.
func nameFromPath(p string) string {
	base := path.Base(p)
	for _, ext := range []string{".gz", ".xz", ".zst"} {
		base = strings.TrimSuffix(base, ext)
	}
	return moduleName(strings.TrimSuffix(base, ".ko"))
}
