// Package efi points the UEFI boot manager at a freshly flashed disk: it
// encodes boot entries (EFI_LOAD_OPTION with a Hard Drive Media Device
// Path) and writes Boot#### and BootOrder through efivarfs, with no
// efibootmgr, then reads them back to verify what the firmware holds.
package efi

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/sirupsen/logrus"
)

// Descriptions of the boot entries earlier runs made: "resinOS" by the
// original takeover, "balenaOS" by this one.
var ourDescriptions = []string{"balenaOS", "resinOS"}

// Options says which boot entry Setup makes.
type Options struct {
	VarRoot     string // efivarfs mount; DefaultVarRoot when empty
	Description string // entry's name in the firmware's menu; "balenaOS" when empty
	Part        PartitionRef
	Loader      string // path on the partition; DefaultLoader(runtime.GOARCH) when empty
	Log         logrus.FieldLogger
}

// Setup makes a boot entry for o.Part and puts it first in BootOrder:
//
//  1. read BootOrder and every Boot####;
//  2. delete the entries earlier runs made ("balenaOS", "resinOS");
//  3. write the new entry as the lowest free Boot####;
//  4. write BootOrder: the new entry, then the old order without the
//     deleted entries;
//  5. delete BootNext, so the next boot follows BootOrder;
//  6. read Boot#### and BootOrder back and compare them with what was
//     written.
//
// The old OS's entries stay, after ours: they point at partitions the
// image has just replaced, so the firmware finds nothing to boot there and
// moves on, while entries for other disks, network boot or the firmware's
// own tools keep working as the machine's owner set them up, and the
// firmware cannot recreate them behind our back in a different order.
func Setup(o Options) error {
	o, err := o.withDefaults()
	if err != nil {
		return fmt.Errorf("setting up EFI boot entry: %w", err)
	}
	if err := setup(o, Vars{Root: o.VarRoot}); err != nil {
		return fmt.Errorf("setting up EFI boot entry: %w", err)
	}
	return nil
}

// store is what setup needs of Vars; tests wrap it to inject faults.
type store interface {
	Read(name string) (Variable, error)
	Write(name string, v Variable) error
	Delete(name string) error
	BootEntries() ([]uint16, error)
}

func (o Options) withDefaults() (Options, error) {
	if o.VarRoot == "" {
		o.VarRoot = DefaultVarRoot
	}
	if o.Description == "" {
		o.Description = "balenaOS"
	}
	if o.Loader == "" {
		l, err := DefaultLoader(runtimeGOARCH)
		if err != nil {
			return o, err
		}
		o.Loader = l
	}
	if o.Log == nil {
		return o, errors.New("no logger given")
	}
	if err := o.Part.check(); err != nil {
		return o, fmt.Errorf("partition %s: %w", o.Part, err)
	}
	return o, nil
}

func setup(o Options, s store) error {
	entry, err := LoadOption{Attributes: LoadOptionActive, Description: o.Description,
		FilePath: DevicePath{HardDriveNode(o.Part), FilePathNode(o.Loader)}}.MarshalBinary()
	if err != nil {
		return err
	}

	order, err := readBootOrder(s)
	if err != nil {
		return err
	}

	nums, deleted, err := removeStale(s, o.Log)
	if err != nil {
		return err
	}

	n, err := freeNumber(nums, without(order, deleted))
	if err != nil {
		return err
	}
	want := Variable{Attributes: AttrBootVar, Data: entry}
	if err := s.Write(BootName(n), want); err != nil {
		return err
	}

	first := firstIn(order, n, deleted)
	newOrder := Variable{Attributes: AttrBootVar, Data: EncodeBootOrder(first)}
	if err := s.Write("BootOrder", newOrder); err != nil {
		return err
	}

	if err := dropBootNext(s, o.Log); err != nil {
		return err
	}

	if err := verify(s, BootName(n), want); err != nil {
		return err
	}
	if err := verify(s, "BootOrder", newOrder); err != nil {
		return err
	}
	o.Log.WithField("entry", BootName(n)).WithField("path", o.Part.String()+"/"+o.Loader).
		WithField("order", fmt.Sprintf("%04X", first)).
		Info("EFI boot entry written and verified")
	return nil
}

// readBootOrder returns BootOrder, empty when the firmware has none.
func readBootOrder(s store) ([]uint16, error) {
	v, err := s.Read("BootOrder")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseBootOrder(v.Data)
}

// removeStale deletes the entries an earlier run made and returns the
// numbers of the Boot#### variables that remain and of those it deleted.
// An entry that does not parse is not ours to judge and stays.
func removeStale(s store, log logrus.FieldLogger) (kept, deleted []uint16, err error) {
	nums, err := s.BootEntries()
	if err != nil {
		return nil, nil, err
	}
	for _, n := range nums {
		name := BootName(n)
		v, err := s.Read(name)
		if err != nil {
			return nil, nil, err
		}
		opt, err := ParseLoadOption(v.Data)
		if err != nil {
			log.WithField("entry", name).WithError(err).Warn("keeping a boot entry that does not parse")
			kept = append(kept, n)
			continue
		}
		if !slices.Contains(ourDescriptions, opt.Description) {
			kept = append(kept, n)
			continue
		}
		if err := s.Delete(name); err != nil {
			return nil, nil, err
		}
		deleted = append(deleted, n)
		log.WithField("entry", name).WithField("description", opt.Description).
			WithField("path", opt.FilePath.String()).Info("deleted boot entry of an earlier run")
	}
	return kept, deleted, nil
}

// freeNumber is the lowest entry number neither used by a Boot####
// variable nor named in BootOrder.
func freeNumber(nums, order []uint16) (uint16, error) {
	for n := range 0x10000 {
		if !slices.Contains(nums, uint16(n)) && !slices.Contains(order, uint16(n)) {
			return uint16(n), nil
		}
	}
	return 0, errors.New("no free Boot#### number")
}

// firstIn returns order with n first and without the deleted entries or
// repeats. Numbers with no Boot#### variable in efivarfs stay: firmware may
// keep entries without runtime access, which the kernel cannot list.
func firstIn(order []uint16, n uint16, deleted []uint16) []uint16 {
	out := []uint16{n}
	for _, m := range without(order, deleted) {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// without returns nums without the numbers in drop.
func without(nums, drop []uint16) []uint16 {
	var out []uint16
	for _, m := range nums {
		if !slices.Contains(drop, m) {
			out = append(out, m)
		}
	}
	return out
}

// dropBootNext deletes BootNext: a one-shot choice left by the old OS
// (a "reboot into" tool) would win over BootOrder on the next boot.
// BootNext is not set to the new entry instead: it covers one boot only,
// and a machine whose firmware does not keep BootOrder would then boot
// balenaOS once and something else after, which is harder to diagnose
// than the same outcome every boot.
func dropBootNext(s store, log logrus.FieldLogger) error {
	v, err := s.Read("BootNext")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.Delete("BootNext"); err != nil {
		return err
	}
	log.WithField("was", fmt.Sprintf("%x", v.Data)).Info("deleted BootNext")
	return nil
}

// verify reads variable name back and compares it with want.
func verify(s store, name string, want Variable) error {
	got, err := s.Read(name)
	if err != nil {
		return fmt.Errorf("verifying EFI variable %s: %w", name, err)
	}
	if !got.equal(want) {
		return fmt.Errorf("verifying EFI variable %s: read back attributes %#x and %x, "+
			"wrote %#x and %x", name, got.Attributes, got.Data, want.Attributes, want.Data)
	}
	return nil
}

// DefaultLoader is the removable-media loader path UEFI defines for an
// architecture (GOARCH), which balenaOS's boot partition carries.
func DefaultLoader(goarch string) (string, error) {
	file, ok := map[string]string{"amd64": "bootx64.efi", "arm64": "bootaa64.efi",
		"386": "bootia32.efi", "arm": "bootarm.efi", "riscv64": "bootriscv64.efi"}[goarch]
	if !ok {
		return "", fmt.Errorf("no UEFI removable-media loader name for architecture %s", goarch)
	}
	return `\EFI\BOOT\` + file, nil
}
