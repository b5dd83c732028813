package stage2init

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/takeover-dev/takeover/flash"
	"github.com/takeover-dev/takeover/kmod"
)

// linuxSystem is System on the running kernel.
type linuxSystem struct{}

func (linuxSystem) LoadModules(dir string, modules []string, log logrus.FieldLogger) error {
	return kmod.LoadAll(dir, modules, log)
}

// KernelLog reads the whole kernel ring buffer without clearing it.
func (linuxSystem) KernelLog() ([]byte, error) {
	n, err := unix.Klogctl(unix.SYSLOG_ACTION_SIZE_BUFFER, nil)
	if err != nil {
		return nil, fmt.Errorf("sizing the kernel log (syslog SIZE_BUFFER): %w", err)
	}
	buf := make([]byte, n)
	n, err = unix.Klogctl(unix.SYSLOG_ACTION_READ_ALL, buf)
	if err != nil {
		return nil, fmt.Errorf("reading the kernel log (syslog READ_ALL): %w", err)
	}
	return buf[:n], nil
}

func (linuxSystem) OpenDisk(path string) (Disk, error) { return flash.Open(path) }

func (linuxSystem) RereadPartitions(ctx context.Context, path string) error {
	return flash.RereadPartitions(ctx, path)
}

func (linuxSystem) Mount(source, target, fsType string) error {
	if err := unix.Mount(source, target, fsType, unix.MS_NOATIME, ""); err != nil {
		return fmt.Errorf("mounting %s (%s) on %s: %w", source, fsType, target, err)
	}
	return nil
}

func (linuxSystem) Unmount(target string) error {
	if err := unix.Unmount(target, 0); err != nil {
		return fmt.Errorf("unmounting %s: %w", target, err)
	}
	return nil
}

func (linuxSystem) Sync() { unix.Sync() }

func (linuxSystem) Reboot() error {
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART); err != nil {
		return fmt.Errorf("rebooting: %w", err)
	}
	return nil
}
