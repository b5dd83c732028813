package efi

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// testGUID is a GPT unique partition GUID as stored on disk: the bytes
// 0x00 to 0x0f, which reads 03020100-0504-0706-0809-0a0b0c0d0e0f.
var testGUID = [16]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

// goldenEntry is the Boot#### data for balenaOS's boot partition as GPT
// partition 1 at LBA 2048 with 204800 sectors (100 MiB), worked out by
// hand from the UEFI specification's EFI_LOAD_OPTION and device path
// layouts. All numbers are little-endian.
var goldenEntry = strings.Join([]string{
	"01000000", // Attributes: LOAD_OPTION_ACTIVE
	// FilePathListLength: Hard Drive node 42 + File Path node 4+2*22 = 48
	// (21 characters and a NUL) + End node 4 = 94 = 0x5e.
	"5e00",
	// Description "balenaOS" in UTF-16LE and a NUL: 18 bytes.
	"6200" + "6100" + "6c00" + "6500" + "6e00" + "6100" + "4f00" + "5300" + "0000",
	// Hard Drive Media Device Path: type 4, subtype 1, length 42.
	"04012a00",
	"01000000",                         // PartitionNumber 1
	"0008000000000000",                 // PartitionStart 2048 = 0x800
	"0020030000000000",                 // PartitionSize 204800 = 0x32000
	"000102030405060708090a0b0c0d0e0f", // PartitionSignature: the GUID as stored
	"02",                               // PartitionFormat: GPT
	"02",                               // SignatureType: GUID
	// File Path Media Device Path: type 4, subtype 4, length 48.
	"04043000",
	// \EFI\BOOT\bootx64.efi in UTF-16LE and a NUL.
	"5c00" + "4500" + "4600" + "4900" + "5c00" + "4200" + "4f00" + "4f00" + "5400" + "5c00" +
		"6200" + "6f00" + "6f00" + "7400" + "7800" + "3600" + "3400" + "2e00" + "6500" +
		"6600" + "6900" + "0000",
	"7fff0400", // End Entire Device Path
}, "")

func goldenOption() LoadOption {
	return LoadOption{Attributes: LoadOptionActive, Description: "balenaOS",
		FilePath: DevicePath{
			HardDriveNode(PartitionRef{Number: 1, StartLBA: 2048, SizeLBA: 204800,
				Signature: testGUID}),
			FilePathNode(`\EFI\BOOT\bootx64.efi`),
		}}
}

func TestLoadOptionGolden(t *testing.T) {
	want, err := hex.DecodeString(goldenEntry)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 4+2+18+94 {
		t.Fatalf("golden entry is %d bytes, the reasoning says 118", len(want))
	}
	got, err := goldenOption().MarshalBinary()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("MarshalBinary() = %x, %v, want %x", got, err, want)
	}
	o, err := ParseLoadOption(want)
	if err != nil {
		t.Fatalf("ParseLoadOption(golden) error: %v", err)
	}
	p, ok := o.FilePath[0].HardDrive()
	path, pathOK := o.FilePath[1].FilePath()
	if o.Attributes != LoadOptionActive || o.Description != "balenaOS" || len(o.FilePath) != 2 ||
		!ok || p.Number != 1 || p.StartLBA != 2048 || p.SizeLBA != 204800 || p.MBR ||
		p.Signature != testGUID || !pathOK || path != `\EFI\BOOT\bootx64.efi` {
		t.Errorf("ParseLoadOption(golden) = %+v (%+v, %q), want the golden option", o, p, path)
	}
	const wantText = `HD(1,GPT,03020100-0504-0706-0809-0a0b0c0d0e0f,0x800,0x32000)/` +
		`\EFI\BOOT\bootx64.efi`
	if s := o.FilePath.String(); s != wantText {
		t.Errorf("FilePath.String() = %s, want %s", s, wantText)
	}
}

func TestLoadOptionRoundTrip(t *testing.T) {
	var mbrSig [16]byte
	copy(mbrSig[:], []byte{0xef, 0xbe, 0xad, 0xde})
	tests := []struct {
		name string
		opt  LoadOption
	}{
		{name: "gpt", opt: goldenOption()},
		{name: "mbr", opt: LoadOption{Attributes: LoadOptionActive, Description: "resinOS",
			FilePath: DevicePath{HardDriveNode(PartitionRef{Number: 1, StartLBA: 8192,
				SizeLBA: 81920, Signature: mbrSig, MBR: true}), FilePathNode(`\EFI\BOOT\bootaa64.efi`)}}},
		{name: "optional data and unicode", opt: LoadOption{Description: "Ubuntu ✓",
			FilePath: DevicePath{{Type: 1, SubType: 1, Data: []byte{0, 2, 0x1f}},
				{Type: TypeEnd, SubType: SubTypeEndInstance}, FilePathNode(`\a`)},
			OptionalData: []byte("quiet")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.opt.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary() error: %v", err)
			}
			got, err := ParseLoadOption(b)
			if err != nil {
				t.Fatalf("ParseLoadOption(%x) error: %v", b, err)
			}
			again, err := got.MarshalBinary()
			if err != nil || !bytes.Equal(again, b) || got.Description != tt.opt.Description ||
				got.FilePath.String() != tt.opt.FilePath.String() {
				t.Errorf("ParseLoadOption(MarshalBinary(%+v)) = %+v, re-encoded %x, %v, want %x",
					tt.opt, got, again, err, b)
			}
		})
	}
	mbr, _ := tests[1].opt.FilePath[0].HardDrive()
	if want := "HD(1,MBR,0xdeadbeef,0x2000,0x14000)"; mbr.String() != want {
		t.Errorf("MBR PartitionRef.String() = %s, want %s", mbr, want)
	}
}

func TestParseLoadOptionRefusals(t *testing.T) {
	golden, _ := hex.DecodeString(goldenEntry)
	tests := []struct {
		name   string
		b      []byte
		errHas string
	}{
		{name: "short", b: golden[:5], errHas: "5 bytes"},
		{name: "description without NUL", b: golden[:20], errHas: "no terminating NUL"},
		{name: "path list cut short", b: golden[:len(golden)-1], errHas: "only 93 left"},
		{name: "empty path list", b: append([]byte{1, 0, 0, 0, 0, 0}, utf16z("x")...),
			errHas: "empty file path list"},
		{name: "no end node", b: withEnd(golden, []byte{0x7f, 0x01, 4, 0}),
			errHas: "cut short"},
		{name: "node shorter than its header", b: withNodeLen(golden, 2),
			errHas: "has length 2"},
		{name: "node past the list", b: withNodeLen(golden, 200), errHas: "has length 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLoadOption(tt.b)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("ParseLoadOption(%x) error = %v, want one containing %q", tt.b, err, tt.errHas)
			}
		})
	}
}

// withEnd replaces the golden entry's End node.
func withEnd(golden, end []byte) []byte {
	b := bytes.Clone(golden)
	copy(b[len(b)-4:], end)
	return b
}

// withNodeLen sets the length of the golden entry's first node.
func withNodeLen(golden []byte, n byte) []byte {
	b := bytes.Clone(golden)
	b[24+2], b[24+3] = n, 0
	return b
}

func TestMarshalRefusesEndInside(t *testing.T) {
	o := LoadOption{FilePath: DevicePath{{Type: TypeEnd, SubType: SubTypeEndEntire}}}
	if b, err := o.MarshalBinary(); err == nil {
		t.Errorf("MarshalBinary(end node inside) = %x, want an error", b)
	}
}

func FuzzParseLoadOption(f *testing.F) {
	golden, _ := hex.DecodeString(goldenEntry)
	f.Add(golden)
	f.Add(append(bytes.Clone(golden), "opt"...))
	f.Add([]byte{1, 0, 0, 0, 4, 0, 0, 0, 0x7f, 0xff, 4, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseLoadOption(b)
		if err != nil {
			return
		}
		m, err := o.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary(ParseLoadOption(%x)) error: %v", b, err)
		}
		// Only an ill-formed UTF-16 description may change on the way.
		desc := len(utf16z(o.Description))
		if bytes.Equal(m[:6+desc], b[:6+desc]) && !bytes.Equal(m, b) {
			t.Fatalf("MarshalBinary(ParseLoadOption(%x)) = %x, want the input", b, m)
		}
		o2, err := ParseLoadOption(m)
		if err != nil {
			t.Fatalf("ParseLoadOption(%x) of a marshalled option: %v", m, err)
		}
		m2, err := o2.MarshalBinary()
		if err != nil || !bytes.Equal(m2, m) {
			t.Fatalf("second round trip of %x = %x, %v", m, m2, err)
		}
	})
}
