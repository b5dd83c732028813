package boot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/takeover-dev/takeover/blockdev"
	"github.com/takeover-dev/takeover/disk"
	"github.com/takeover-dev/takeover/kmod"
	"github.com/takeover-dev/takeover/plan"
)

// devices are the block devices of the run by kernel name.
type devices struct {
	target string      // disk stage2 flashes, e.g. sda
	log    string      // device stage2 logs to, e.g. sdb1; "" for none
	logFS  io.ReaderAt // the log device's contents, to probe its file system
	files  []io.Closer // what close releases
}

func (d *devices) close() {
	for _, f := range d.files {
		f.Close()
	}
}

// openDevices turns --flash-to and --log-to into kernel names, finding the
// disk holding / when --flash-to is empty.
func openDevices(o Options) (*devices, error) {
	d := &devices{}
	var err error
	if o.FlashTo == "" {
		if d.target, err = blockdev.RootDisk(o.ProcRoot, o.SysRoot); err != nil {
			return nil, fmt.Errorf("finding the disk to flash (pass --flash-to): %w", err)
		}
	} else if d.target, err = deviceName(o.FlashTo); err != nil {
		return nil, fmt.Errorf("checking --flash-to: %w", err)
	}
	if o.LogTo == "" {
		return d, nil
	}
	if d.log, err = deviceName(o.LogTo); err != nil {
		return nil, fmt.Errorf("checking --log-to: %w", err)
	}
	f, err := os.Open(o.LogTo)
	if err != nil {
		return nil, fmt.Errorf("checking --log-to: %w", err)
	}
	d.logFS, d.files = f, append(d.files, f)
	return d, nil
}

// deviceName returns the kernel name of a block device node, following
// symlinks such as /dev/disk/by-id/... to the node.
func deviceName(path string) (string, error) {
	ok, err := blockdev.IsBlockDevice(path)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%s is not a block device", path)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", path, err)
	}
	return filepath.Base(real), nil
}

// devicePlan identifies the disks and resolves the kernel modules stage2
// needs for them, for vfat and ext4, and for the watchdog.
func devicePlan(o Options, devs *devices, release string) (*plan.Device, []kmod.Module, error) {
	dev := &plan.Device{Version: plan.Version, KernelRelease: release}
	var err error
	if dev.Disk, err = identifyTarget(o.SysRoot, devs.target); err != nil {
		return nil, nil, err
	}
	if devs.log != "" {
		if dev.LogDevice, err = identifyLog(o.SysRoot, devs.log, devs.target, devs.logFS); err != nil {
			return nil, nil, err
		}
	}
	o.Log.WithFields(logrus.Fields{"disk": dev.Disk.Name, "size": dev.Disk.Size,
		"model": dev.Disk.Model}).Info("target disk")
	dev.OldRoot = oldRoot(o, dev.Disk)

	mods, err := kmod.Resolve(kmod.ResolveOptions{
		SysRoot:     o.SysRoot,
		ModulesDir:  modulesDir(o, release),
		Devices:     nonEmpty(devs.target, devs.log),
		FileSystems: fileSystems(o.SysRoot),
		Watchdog:    true,
		Log:         o.Log,
	})
	if err != nil {
		return nil, nil, err
	}
	o.Log.WithField("modules", len(mods)).Info("resolved kernel modules for stage2")
	return dev, mods, nil
}

// identifyTarget identifies the disk to flash, refusing a partition.
func identifyTarget(sysRoot, name string) (plan.DiskIdentity, error) {
	if n, err := partitionNumber(sysRoot, name); err != nil {
		return plan.DiskIdentity{}, fmt.Errorf("identifying the disk to flash: %w", err)
	} else if n > 0 {
		return plan.DiskIdentity{}, fmt.Errorf("identifying the disk to flash: %s is partition %d, "+
			"and the image replaces a whole disk: pass its disk to --flash-to", name, n)
	}
	id, err := blockdev.Identify(sysRoot, name)
	if err != nil {
		return id, fmt.Errorf("identifying the disk to flash: %w", err)
	}
	return id, nil
}

// identifyLog identifies the log device: the identity of its disk plus the
// partition number (0 for a file system on the whole disk) and the file
// system, which must be one stage2 can write.
func identifyLog(sysRoot, name, target string, contents io.ReaderAt) (*plan.DiskIdentity, error) {
	n, err := partitionNumber(sysRoot, name)
	if err != nil {
		return nil, fmt.Errorf("identifying the log device: %w", err)
	}
	diskName := name
	if n > 0 {
		if diskName, err = parentDisk(sysRoot, name); err != nil {
			return nil, fmt.Errorf("identifying the log device: %w", err)
		}
	}
	if diskName == target {
		return nil, fmt.Errorf("identifying the log device: %s is on %s, the disk being flashed; "+
			"pass a device on another disk to --log-to", name, target)
	}
	id, err := blockdev.Identify(sysRoot, diskName)
	if err != nil {
		return nil, fmt.Errorf("identifying the log device: %w", err)
	}
	id.Partition = n
	fsType, _, err := disk.Probe(contents, 0)
	if err != nil {
		return nil, fmt.Errorf("identifying the log device %s: %w", name, err)
	}
	switch fsType {
	case "vfat", "ext3", "ext4":
		id.FSType = fsType
	default:
		return nil, fmt.Errorf("identifying the log device: %s holds %q, stage2 writes only "+
			"vfat, ext3 or ext4: format it or pass another device to --log-to", name, fsType)
	}
	return &id, nil
}

// partitionNumber returns the partition number of a block device, 0 for a
// whole disk, from /sys/class/block/<name>/partition.
func partitionNumber(sysRoot, name string) (int, error) {
	dir := filepath.Join(sysRoot, "class", "block", name)
	if _, err := os.Stat(dir); err != nil {
		return 0, fmt.Errorf("reading %s from sysfs: %w", name, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "partition"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading partition number of %s: %w", name, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("reading partition number of %s: %q is not a partition number", name, b)
	}
	return n, nil
}

// parentDisk names the disk of a partition: sysfs keeps a partition's
// directory inside its disk's.
func parentDisk(sysRoot, partition string) (string, error) {
	real, err := filepath.EvalSymlinks(filepath.Join(sysRoot, "class", "block", partition))
	if err != nil {
		return "", fmt.Errorf("finding the disk of %s: %w", partition, err)
	}
	return filepath.Base(filepath.Dir(real)), nil
}

func nonEmpty(list ...string) []string {
	var out []string
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// fileSystems are the file systems stage2 mounts: the new boot (vfat) and
// data (ext4) partitions, and efivarfs for the boot entry on EFI machines.
func fileSystems(sysRoot string) []string {
	fs := []string{"vfat", "ext4"}
	if _, err := os.Stat(filepath.Join(sysRoot, "firmware/efi")); err == nil {
		fs = append(fs, "efivarfs")
	}
	return fs
}
