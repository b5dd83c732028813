package efi

import (
	"encoding/binary"
	"fmt"
)

// LoadOptionActive is the EFI_LOAD_OPTION attribute that lets the boot
// manager try the entry.
const LoadOptionActive = 0x00000001

// LoadOption is the content of a Boot#### variable (EFI_LOAD_OPTION).
type LoadOption struct {
	Attributes   uint32
	Description  string
	FilePath     DevicePath // the first node is where the loader lives
	OptionalData []byte     // passed to the loader; empty for ours
}

// MarshalBinary encodes o: Attributes (u32), FilePathListLength (u16),
// Description (UTF-16LE, NUL-terminated), FilePathList (the nodes and an
// End Entire node), OptionalData.
func (o LoadOption) MarshalBinary() ([]byte, error) {
	fp, err := o.FilePath.marshal(nil)
	if err != nil {
		return nil, fmt.Errorf("encoding load option %q: %w", o.Description, err)
	}
	if len(fp) > 0xffff {
		return nil, fmt.Errorf("encoding load option %q: file path list of %d bytes",
			o.Description, len(fp))
	}
	b := binary.LittleEndian.AppendUint32(nil, o.Attributes)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(fp)))
	b = append(b, utf16z(o.Description)...)
	b = append(b, fp...)
	return append(b, o.OptionalData...), nil
}

// ParseLoadOption decodes the content of a Boot#### variable (without the
// 4-byte attributes prefix efivarfs adds).
func ParseLoadOption(b []byte) (LoadOption, error) {
	if len(b) < 6 {
		return LoadOption{}, fmt.Errorf("parsing load option: %d bytes, want 6 or more", len(b))
	}
	o := LoadOption{Attributes: binary.LittleEndian.Uint32(b)}
	n := int(binary.LittleEndian.Uint16(b[4:]))
	desc, rest, err := cutUTF16z(b[6:])
	if err != nil {
		return LoadOption{}, fmt.Errorf("parsing load option description: %w", err)
	}
	o.Description = desc
	if n > len(rest) {
		return LoadOption{}, fmt.Errorf("parsing load option %q: file path list of %d bytes, "+
			"only %d left", desc, n, len(rest))
	}
	if n == 0 {
		return LoadOption{}, fmt.Errorf("parsing load option %q: empty file path list", desc)
	}
	o.FilePath, err = parseDevicePath(rest[:n])
	if err != nil {
		return LoadOption{}, fmt.Errorf("parsing load option %q: %w", desc, err)
	}
	if len(rest) > n {
		o.OptionalData = rest[n:]
	}
	return o, nil
}
