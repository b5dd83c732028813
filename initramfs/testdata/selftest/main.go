// Command selftest is a tiny /init for initramfs's QEMU test: it mounts the
// kernel file systems, loads the modules the device plan lists, waits for
// /dev/vda, checks the payload image against the payload plan and powers
// off. Its verdict is a line on the serial console starting with SELFTEST.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/takeover-dev/takeover/kmod"
	"github.com/takeover-dev/takeover/plan"
)

func main() {
	if err := run(); err != nil {
		fmt.Printf("SELFTEST FAIL %v\n", err)
	}
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	select {}
}

func run() error {
	for _, m := range []struct{ src, dir, fs string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"},
	} {
		if err := unix.Mount(m.src, m.dir, m.fs, 0, ""); err != nil && err != unix.EBUSY {
			return fmt.Errorf("mounting %s: %w", m.dir, err)
		}
	}

	dev, err := plan.ReadDevice(plan.DevicePlanPath)
	if err != nil {
		return err
	}
	if err := kmod.LoadAll("/", dev.Modules, nil); err != nil {
		return err
	}
	fmt.Printf("SELFTEST modules loaded %d\n", len(dev.Modules))
	if err := waitFor("/dev/vda", 10*time.Second); err != nil {
		return err
	}
	fmt.Println("SELFTEST disk /dev/vda present")

	p, err := plan.ReadPayload(plan.PayloadPlanPath)
	if err != nil {
		return err
	}
	sum, err := sha256File(p.Image.Path)
	if err != nil {
		return err
	}
	if sum != p.Image.SHA256 {
		fmt.Printf("SELFTEST image sha256 mismatch %s want %s\n", sum, p.Image.SHA256)
		return nil
	}
	fmt.Printf("SELFTEST image sha256 ok %s\n", sum)
	return nil
}

func waitFor(name string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if _, err := os.Stat(name); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within %v", name, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sha256File(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
