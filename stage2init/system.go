// Package stage2init is stage2: PID 1 in RAM after the kexec (or init
// swap). It finds the target disk by its identity, flashes the image,
// verifies it by reading it back, writes config.json, network files and
// the backup into the new partitions, saves its log and reboots. It never
// exits: every path, a panic included, ends in a reboot.
package stage2init

import (
	"context"
	"io"

	"github.com/sirupsen/logrus"

	"github.com/takeover-dev/takeover/flash"
)

// System is what stage2 asks of the kernel, kept behind an interface so the
// orchestration runs in tests against files and a fake sysfs.
type System interface {
	// LoadModules loads kernel modules from dir in the order given.
	LoadModules(dir string, modules []string, log logrus.FieldLogger) error
	// KernelLog returns the kernel's message buffer.
	KernelLog() ([]byte, error)
	// OpenDisk opens the whole disk at path exclusively for writing.
	OpenDisk(path string) (Disk, error)
	// RereadPartitions makes the kernel read the disk's partition table.
	RereadPartitions(ctx context.Context, path string) error
	// Mount mounts the file system on source at target.
	Mount(source, target, fsType string) error
	// Unmount unmounts target.
	Unmount(target string) error
	// Sync flushes every file system; it may block for long.
	Sync()
	// Reboot restarts the machine; it returns only on failure.
	Reboot() error
}

// Disk is an open disk.
type Disk interface {
	flash.Disk
	io.Closer
}
