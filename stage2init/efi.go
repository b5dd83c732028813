package stage2init

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/takeover-dev/takeover/disk"
	"github.com/takeover-dev/takeover/efi"
	"github.com/takeover-dev/takeover/image"
)

// setupEFI points the firmware's boot order at balenaOS's boot partition
// on the flashed disk.
//
// A failure here does not fail the migration: the image is flashed and
// verified and the files are written, so failing would only change the
// log, not what boots. Without our entry the firmware tries the old OS's
// entries, which point at partitions that no longer exist, and then falls
// back to the removable-media path \EFI\BOOT\BOOTX64.EFI on its disks,
// where balenaOS's loader is.
func (r *run) setupEFI(context.Context) error {
	if _, err := os.Stat(filepath.Join(r.cfg.SysRoot, "firmware", "efi")); err != nil {
		r.log.Info("no EFI firmware, skipping EFI setup")
		return nil
	}
	if !r.payload.Options.EFISetup {
		r.log.Info("EFI setup turned off by the plan, skipping it")
		return nil
	}
	if err := r.writeBootEntry(); err != nil {
		r.log.WithError(err).Warn("EFI boot entry not set up; relying on the firmware's " +
			"fallback to \\EFI\\BOOT on the flashed disk")
	}
	return nil
}

func (r *run) writeBootEntry() error {
	ref, err := r.bootPartitionRef()
	if err != nil {
		return err
	}
	varRoot := filepath.Join(r.cfg.SysRoot, "firmware", "efi", "efivars")
	if err := r.mountEfivarfs(varRoot); err != nil {
		return err
	}
	return efi.Setup(efi.Options{VarRoot: varRoot, Description: "balenaOS", Part: ref,
		Log: r.log})
}

// bootPartitionRef reads the flashed disk's partition table for what a
// UEFI device path names the boot partition by: number, extent in logical
// blocks, and the GPT partition GUID or the MBR disk signature.
func (r *run) bootPartitionRef() (efi.PartitionRef, error) {
	var boot part
	var ok bool
	for _, n := range image.BootNames {
		if boot, ok = r.parts[n]; ok {
			break
		}
	}
	if !ok {
		return efi.PartitionRef{}, fmt.Errorf("the plan names no boot partition (%s)",
			strings.Join(image.BootNames, ", "))
	}
	d, err := r.sys.OpenDisk(r.diskPath())
	if err != nil {
		return efi.PartitionRef{}, err
	}
	defer d.Close()
	tab, err := disk.ReadTable(d, d.Size(), d.SectorSize())
	if err != nil {
		return efi.PartitionRef{}, fmt.Errorf("reading partition table of %s: %w", r.diskPath(), err)
	}
	p, ok := tab.Number(boot.Number)
	if !ok {
		return efi.PartitionRef{}, fmt.Errorf("no partition %d in the table of %s", boot.Number,
			r.diskPath())
	}
	if p.Start != boot.Start || p.Size != boot.Size {
		return efi.PartitionRef{}, fmt.Errorf("partition %d of %s starts at byte %d with %d "+
			"bytes, the plan says %d with %d bytes", p.Number, r.diskPath(), p.Start, p.Size,
			boot.Start, boot.Size)
	}
	ss := int64(tab.SectorSize)
	ref := efi.PartitionRef{Number: p.Number, StartLBA: uint64(p.Start / ss),
		SizeLBA: uint64(p.Size / ss), Signature: p.UniqueGUID, MBR: tab.Kind == "mbr"}
	if ref.MBR {
		binary.LittleEndian.PutUint32(ref.Signature[:], tab.DiskSignature)
	}
	return ref, nil
}

// mountEfivarfs mounts efivarfs at dir unless the mount table lists it.
func (r *run) mountEfivarfs(dir string) error {
	f, err := os.Open(filepath.Join(r.cfg.ProcRoot, "self", "mounts"))
	if err != nil {
		return fmt.Errorf("reading mount table: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) >= 3 &&
			fields[1] == dir && fields[2] == "efivarfs" {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading mount table: %w", err)
	}
	r.log.WithField("dir", dir).Info("mounting efivarfs")
	return r.sys.Mount("efivarfs", dir, "efivarfs")
}
