package efi

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

func quietLog() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// putVar writes an efivarfs file by hand: attributes, then data.
func putVar(t *testing.T, dir, name string, attrs uint32, data []byte) {
	t.Helper()
	b := append(binary.LittleEndian.AppendUint32(nil, attrs), data...)
	if err := os.WriteFile(filepath.Join(dir, name+"-"+GlobalGUID), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// getVar reads an efivarfs file by hand; ok is false when it is missing.
func getVar(t *testing.T, dir, name string) (attrs uint32, data []byte, ok bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name+"-"+GlobalGUID))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil, false
	}
	if err != nil || len(b) < 4 {
		t.Fatalf("reading %s: %v (%d bytes)", name, err, len(b))
	}
	return binary.LittleEndian.Uint32(b), b[4:], true
}

// entry encodes a boot entry with description desc on a GPT partition.
func entry(t *testing.T, desc string, part int) []byte {
	t.Helper()
	b, err := LoadOption{Attributes: LoadOptionActive, Description: desc,
		FilePath: DevicePath{HardDriveNode(PartitionRef{Number: part, StartLBA: 2048,
			SizeLBA: 1024, Signature: [16]byte{0xaa, byte(part)}}),
			FilePathNode(`\EFI\old\shimx64.efi`)}}.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func order(nums ...uint16) []byte { return EncodeBootOrder(nums) }

func testOptions(dir string) Options {
	return Options{VarRoot: dir, Part: PartitionRef{Number: 1, StartLBA: 2048, SizeLBA: 204800,
		Signature: testGUID}, Loader: `\EFI\BOOT\bootx64.efi`, Log: quietLog()}
}

func TestSetup(t *testing.T) {
	golden, _ := hex.DecodeString(goldenEntry)
	tests := []struct {
		name      string
		vars      map[string][]byte // name -> data, written with NV|BS|RT
		wantEntry string
		wantOrder []uint16
		wantGone  []string // variables Setup must delete
		wantKept  []string // variables Setup must leave as they were
	}{
		{name: "no variables at all", wantEntry: "Boot0000", wantOrder: []uint16{0}},
		{name: "ours goes first, the old OS's stay after it",
			vars: map[string][]byte{"Boot0000": entry(t, "debian", 1),
				"Boot0001": entry(t, "UEFI Shell", 2), "BootOrder": order(0, 1)},
			wantEntry: "Boot0002", wantOrder: []uint16{2, 0, 1},
			wantKept: []string{"Boot0000", "Boot0001"}},
		{name: "earlier runs' entries replaced, BootNext dropped",
			vars: map[string][]byte{"Boot0000": entry(t, "ubuntu", 1),
				"Boot0001": entry(t, "resinOS", 1), "Boot0003": entry(t, "balenaOS", 1),
				"Boot0004": entry(t, "balenaOS (old disk)", 1), "BootNext": order(0),
				"BootOrder": order(1, 0, 3, 4, 9)},
			wantEntry: "Boot0001", wantOrder: []uint16{1, 0, 4, 9},
			wantGone: []string{"Boot0003", "BootNext"},
			wantKept: []string{"Boot0000", "Boot0004"}},
		{name: "a number in BootOrder without a variable is not reused",
			vars:      map[string][]byte{"Boot0001": entry(t, "x", 1), "BootOrder": order(0, 1)},
			wantEntry: "Boot0002", wantOrder: []uint16{2, 0, 1}},
		{name: "an entry that does not parse stays",
			vars:      map[string][]byte{"Boot0000": {1, 2, 3}, "BootOrder": order(0)},
			wantEntry: "Boot0001", wantOrder: []uint16{1, 0}, wantKept: []string{"Boot0000"}},
		{name: "lower-case hex is no boot entry",
			vars:      map[string][]byte{"Boot000a": entry(t, "resinOS", 1), "BootOrder": order(0)},
			wantEntry: "Boot0001", wantOrder: []uint16{1, 0}, wantKept: []string{"Boot000a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tt.vars {
				putVar(t, dir, name, AttrBootVar, data)
			}
			if err := Setup(testOptions(dir)); err != nil {
				t.Fatalf("Setup() error: %v", err)
			}
			attrs, data, ok := getVar(t, dir, tt.wantEntry)
			if !ok || attrs != 7 || !bytes.Equal(data, golden) {
				t.Errorf("%s = %#x %x (exists %v), want 0x7 %x", tt.wantEntry, attrs, data, ok, golden)
			}
			attrs, data, _ = getVar(t, dir, "BootOrder")
			if got, err := ParseBootOrder(data); err != nil || attrs != 7 ||
				!slices.Equal(got, tt.wantOrder) {
				t.Errorf("BootOrder = %#x %04X (%v), want 0x7 %04X", attrs, got, err, tt.wantOrder)
			}
			for _, name := range tt.wantGone {
				if _, _, ok := getVar(t, dir, name); ok {
					t.Errorf("%s still exists, want it deleted", name)
				}
			}
			for _, name := range tt.wantKept {
				if _, data, ok := getVar(t, dir, name); !ok || !bytes.Equal(data, tt.vars[name]) {
					t.Errorf("%s = %x (exists %v), want it kept as %x", name, data, ok, tt.vars[name])
				}
			}
		})
	}
}

// Running Setup twice leaves one entry, not two: the second run deletes
// the first run's entry and writes the same one again.
func TestSetupTwice(t *testing.T) {
	dir := t.TempDir()
	putVar(t, dir, "Boot0000", AttrBootVar, entry(t, "debian", 1))
	putVar(t, dir, "BootOrder", AttrBootVar, order(0))
	for range 2 {
		if err := Setup(testOptions(dir)); err != nil {
			t.Fatalf("Setup() error: %v", err)
		}
	}
	nums, err := Vars{Root: dir}.BootEntries()
	_, data, _ := getVar(t, dir, "BootOrder")
	if err != nil || !slices.Equal(nums, []uint16{0, 1}) || !bytes.Equal(data, order(1, 0)) {
		t.Errorf("after two runs: entries %04X (%v), BootOrder %x, want [0000 0001] and %x",
			nums, err, data, order(1, 0))
	}
}

// corruptStore flips a bit in what it writes to variable name, as a
// firmware that stores a variable wrongly would.
type corruptStore struct {
	Vars
	name string
}

func (s corruptStore) Write(name string, v Variable) error {
	if name == s.name {
		v.Data = bytes.Clone(v.Data)
		v.Data[len(v.Data)/2] ^= 0x10
	}
	return s.Vars.Write(name, v)
}

func TestSetupVerifyCatchesCorruptWrite(t *testing.T) {
	for _, name := range []string{"Boot0000", "BootOrder"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			o, err := testOptions(dir).withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			err = setup(o, corruptStore{Vars: Vars{Root: dir}, name: name})
			if err == nil || !strings.Contains(err.Error(), "verifying EFI variable "+name) {
				t.Errorf("setup(corrupting %s) error = %v, want a verify error", name, err)
			}
		})
	}
}

func TestSetupRefusals(t *testing.T) {
	tests := []struct {
		name   string
		change func(o *Options)
		errHas string
	}{
		{name: "zero GUID", change: func(o *Options) { o.Part.Signature = [16]byte{} },
			errHas: "GPT partition GUID is zero"},
		{name: "zero MBR signature", change: func(o *Options) {
			o.Part.MBR, o.Part.Signature = true, [16]byte{}
		}, errHas: "MBR disk signature is zero"},
		{name: "MBR signature too long", change: func(o *Options) { o.Part.MBR = true },
			errHas: "beyond its first four"},
		{name: "partition 0", change: func(o *Options) { o.Part.Number = 0 },
			errHas: "partition number 0"},
		{name: "no logger", change: func(o *Options) { o.Log = nil }, errHas: "no logger"},
		{name: "efivarfs missing", change: func(o *Options) { o.VarRoot += "/none" },
			errHas: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions(t.TempDir())
			tt.change(&o)
			err := Setup(o)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("Setup(%s) error = %v, want one containing %q", tt.name, err, tt.errHas)
			}
		})
	}
}

func TestBootOrder(t *testing.T) {
	b := EncodeBootOrder([]uint16{1, 0x1234})
	if !bytes.Equal(b, []byte{1, 0, 0x34, 0x12}) {
		t.Errorf("EncodeBootOrder([1 0x1234]) = %x, want 01003412", b)
	}
	if got, err := ParseBootOrder(b); err != nil || !slices.Equal(got, []uint16{1, 0x1234}) {
		t.Errorf("ParseBootOrder(%x) = %v, %v, want [1 4660]", b, got, err)
	}
	if got, err := ParseBootOrder([]byte{1, 0, 2}); err == nil {
		t.Errorf("ParseBootOrder(3 bytes) = %v, want an error", got)
	}
}

func TestDefaultLoader(t *testing.T) {
	tests := []struct {
		goarch, want string
	}{
		{goarch: "amd64", want: `\EFI\BOOT\bootx64.efi`},
		{goarch: "arm64", want: `\EFI\BOOT\bootaa64.efi`},
		{goarch: "mips", want: ""},
	}
	for _, tt := range tests {
		got, err := DefaultLoader(tt.goarch)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("DefaultLoader(%s) = %q, %v, want %q", tt.goarch, got, err, tt.want)
		}
	}
}

// A rewrite shorter than the variable was must not leave old bytes behind
// (plain files are truncated; efivarfs replaces the variable whole).
func TestVarsWriteShorter(t *testing.T) {
	vs := Vars{Root: t.TempDir()}
	for _, data := range [][]byte{{1, 2, 3, 4, 5, 6}, {9}} {
		if err := vs.Write("BootOrder", Variable{Attributes: AttrBootVar, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	v, err := vs.Read("BootOrder")
	if err != nil || v.Attributes != AttrBootVar || !bytes.Equal(v.Data, []byte{9}) {
		t.Errorf("Read(BootOrder) = %+v, %v, want attributes 7 and data 09", v, err)
	}
	if err := vs.Delete("BootOrder"); err != nil {
		t.Fatal(err)
	}
	if _, err := vs.Read("BootOrder"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read(deleted BootOrder) error = %v, want fs.ErrNotExist", err)
	}
	if err := vs.Delete("BootOrder"); err != nil {
		t.Errorf("Delete(missing BootOrder) = %v, want nil", err)
	}
}
