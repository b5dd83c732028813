package efi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
)

// GlobalGUID is EFI_GLOBAL_VARIABLE, the vendor GUID of Boot####,
// BootOrder and BootNext, as efivarfs spells it in file names.
const GlobalGUID = "8be4df61-93ca-11d2-aa0d-00e098032b8c"

// DefaultVarRoot is where Linux mounts efivarfs.
const DefaultVarRoot = "/sys/firmware/efi/efivars"

// Variable attributes.
const (
	AttrNonVolatile       = 0x00000001
	AttrBootserviceAccess = 0x00000002
	AttrRuntimeAccess     = 0x00000004

	// AttrBootVar is what boot manager variables carry: NV|BS|RT.
	AttrBootVar = AttrNonVolatile | AttrBootserviceAccess | AttrRuntimeAccess
)

// Vars reads and writes EFI global variables through efivarfs mounted at
// Root (DefaultVarRoot on a real machine; any directory in tests, where
// files are plain files and the immutable flag is left alone).
type Vars struct {
	Root string
}

// Variable is a variable's attributes and data.
type Variable struct {
	Attributes uint32
	Data       []byte
}

// bytes is the efivarfs file content: attributes then data.
func (v Variable) bytes() []byte {
	return append(binary.LittleEndian.AppendUint32(nil, v.Attributes), v.Data...)
}

func (vs Vars) path(name string) string {
	return filepath.Join(vs.Root, name+"-"+GlobalGUID)
}

// Read reads global variable name; a missing one is an error satisfying
// errors.Is(err, fs.ErrNotExist).
func (vs Vars) Read(name string) (Variable, error) {
	b, err := os.ReadFile(vs.path(name))
	if err != nil {
		return Variable{}, fmt.Errorf("reading EFI variable %s: %w", name, err)
	}
	if len(b) < 4 {
		return Variable{}, fmt.Errorf("reading EFI variable %s: %d bytes, no attributes", name, len(b))
	}
	return Variable{Attributes: binary.LittleEndian.Uint32(b), Data: b[4:]}, nil
}

// Write creates or replaces global variable name in one write, as
// efivarfs requires, clearing the immutable flag of an existing one first.
func (vs Vars) Write(name string, v Variable) error {
	p := vs.path(name)
	efivarfs, err := isEfivarfs(vs.Root)
	if err != nil {
		return fmt.Errorf("writing EFI variable %s: %w", name, err)
	}
	flag := os.O_WRONLY | os.O_CREATE
	if efivarfs {
		if err := clearImmutable(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("writing EFI variable %s: %w", name, err)
		}
	} else {
		flag |= os.O_TRUNC // a plain file keeps old bytes past the new end
	}
	f, err := os.OpenFile(p, flag, 0o644)
	if err != nil {
		return fmt.Errorf("writing EFI variable %s: %w", name, err)
	}
	if _, err := f.Write(v.bytes()); err != nil {
		f.Close()
		return fmt.Errorf("writing EFI variable %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing EFI variable %s: closing: %w", name, err)
	}
	return nil
}

// Delete removes global variable name; a missing one is no error.
func (vs Vars) Delete(name string) error {
	p := vs.path(name)
	efivarfs, err := isEfivarfs(vs.Root)
	if err != nil {
		return fmt.Errorf("deleting EFI variable %s: %w", name, err)
	}
	if efivarfs {
		if err := clearImmutable(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("deleting EFI variable %s: %w", name, err)
		}
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting EFI variable %s: %w", name, err)
	}
	return nil
}

// bootEntryName matches Boot#### file names; UEFI spells the number in
// upper-case hex, so the firmware would not load a Boot000a.
var bootEntryName = regexp.MustCompile(`^Boot([0-9A-F]{4})-` + GlobalGUID + `$`)

// BootEntries lists the numbers of the Boot#### variables, in order.
func (vs Vars) BootEntries() ([]uint16, error) {
	des, err := os.ReadDir(vs.Root)
	if err != nil {
		return nil, fmt.Errorf("listing EFI variables: %w", err)
	}
	var nums []uint16
	for _, de := range des {
		m := bootEntryName.FindStringSubmatch(de.Name())
		if m == nil {
			continue
		}
		n, err := strconv.ParseUint(m[1], 16, 16)
		if err != nil {
			return nil, fmt.Errorf("listing EFI variables: %s: %w", de.Name(), err)
		}
		nums = append(nums, uint16(n))
	}
	slices.Sort(nums)
	return slices.Compact(nums), nil
}

// BootName is the variable name of boot entry n: Boot0001.
func BootName(n uint16) string { return fmt.Sprintf("Boot%04X", n) }

// EncodeBootOrder encodes a BootOrder variable's data.
func EncodeBootOrder(order []uint16) []byte {
	b := make([]byte, 0, 2*len(order))
	for _, n := range order {
		b = binary.LittleEndian.AppendUint16(b, n)
	}
	return b
}

// ParseBootOrder decodes a BootOrder variable's data.
func ParseBootOrder(b []byte) ([]uint16, error) {
	if len(b)%2 != 0 {
		return nil, fmt.Errorf("parsing BootOrder: %d bytes, want an even number", len(b))
	}
	order := make([]uint16, len(b)/2)
	for i := range order {
		order[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return order, nil
}

// equal reports whether two variables have the same attributes and data.
func (v Variable) equal(w Variable) bool {
	return v.Attributes == w.Attributes && bytes.Equal(v.Data, w.Data)
}
