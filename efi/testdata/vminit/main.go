// Command vminit is /init for package efi's QEMU test: it loads efivarfs,
// mounts it, reads the GPT of /dev/nvme0n1 and runs efi.Setup for its
// partition 1 against the firmware (OVMF) twice, prints what it reads back
// and powers the VM off.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/takeover-dev/takeover/disk"
	"github.com/takeover-dev/takeover/efi"
	"github.com/takeover-dev/takeover/kmod"
)

func main() {
	if err := run(); err != nil {
		fmt.Printf("EFI-VM-FAILED: %v\n", err)
	}
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}

func run() error {
	for _, m := range []struct{ src, dir, typ string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"},
	} {
		os.MkdirAll(m.dir, 0o755)
		if err := unix.Mount(m.src, m.dir, m.typ, 0, ""); err != nil {
			return fmt.Errorf("mounting %s: %w", m.dir, err)
		}
	}
	if err := kmod.Load("/efivarfs.ko", ""); err != nil {
		return err
	}
	if err := unix.Mount("efivarfs", efi.DefaultVarRoot, "efivarfs", 0, ""); err != nil {
		return fmt.Errorf("mounting efivarfs: %w", err)
	}
	ref, err := bootRef("/dev/nvme0n1")
	if err != nil {
		return err
	}
	log := logrus.New()
	log.SetOutput(os.Stdout)
	log.SetFormatter(&logrus.TextFormatter{DisableColors: true})
	// Twice: the second run deletes the first run's entry, which efivarfs
	// made immutable, and writes it again.
	for range 2 {
		if err := efi.Setup(efi.Options{Description: "balenaOS", Part: ref, Log: log}); err != nil {
			return err
		}
	}
	return report()
}

func bootRef(dev string) (efi.PartitionRef, error) {
	var f *os.File
	var err error
	for range 100 {
		if f, err = os.Open(dev); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return efi.PartitionRef{}, err
	}
	defer f.Close()
	size, err := f.Seek(0, 2)
	if err != nil {
		return efi.PartitionRef{}, err
	}
	tab, err := disk.ReadTable(f, size, 512)
	if err != nil {
		return efi.PartitionRef{}, err
	}
	p, ok := tab.Number(1)
	if !ok {
		return efi.PartitionRef{}, fmt.Errorf("no partition 1 on %s", dev)
	}
	return efi.PartitionRef{Number: 1, StartLBA: uint64(p.Start / 512),
		SizeLBA: uint64(p.Size / 512), Signature: p.UniqueGUID}, nil
}

// report prints BootOrder and each entry as the firmware returns them.
func report() error {
	vs := efi.Vars{Root: efi.DefaultVarRoot}
	v, err := vs.Read("BootOrder")
	if err != nil {
		return err
	}
	order, err := efi.ParseBootOrder(v.Data)
	if err != nil {
		return err
	}
	fmt.Printf("EFI-VM-ORDER %04X\n", order)
	nums, err := vs.BootEntries()
	if err != nil {
		return err
	}
	for _, n := range nums {
		e, err := vs.Read(efi.BootName(n))
		if err != nil {
			return err
		}
		if o, err := efi.ParseLoadOption(e.Data); err == nil {
			fmt.Printf("EFI-VM-ENTRY %s %q %s\n", efi.BootName(n), o.Description, o.FilePath)
		}
	}
	fmt.Println("EFI-VM-DONE")
	return nil
}
