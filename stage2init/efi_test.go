package stage2init

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/takeover-dev/takeover/efi"
)

// withEFI gives the stage an MBR image whose partition 1 is the plan's
// boot partition, UEFI firmware with one old-OS boot entry, and efivarfs
// mounted (listed in the mount table) when mounted is true.
func withEFI(t *testing.T, s *stage, mounted bool) string {
	t.Helper()
	mbr := s.raw[:512]
	clear(mbr)
	binary.LittleEndian.PutUint32(mbr[440:], 0x1234abcd)
	e := mbr[446:]
	e[4] = 0x0e
	binary.LittleEndian.PutUint32(e[8:], 2048)  // the plan's boot: byte 1 MiB
	binary.LittleEndian.PutUint32(e[12:], 4096) // 2 MiB
	mbr[510], mbr[511] = 0x55, 0xaa
	s.payload.Image.RawSHA256 = digest(s.raw)
	s.write(s.payload.Image.Path, gzipped(t, s.raw), 0o644)
	s.payload.Image.Size, s.payload.Image.SHA256 = fileDigest(t, s.payload.Image.Path)

	varRoot := filepath.Join(s.cfg.SysRoot, "firmware", "efi", "efivars")
	if err := os.MkdirAll(varRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	old, err := efi.LoadOption{Attributes: efi.LoadOptionActive, Description: "debian",
		FilePath: efi.DevicePath{efi.FilePathNode(`\EFI\debian\shimx64.efi`)}}.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	vs := efi.Vars{Root: varRoot}
	for name, data := range map[string][]byte{"Boot0000": old, "BootOrder": {0, 0}} {
		if err := vs.Write(name, efi.Variable{Attributes: efi.AttrBootVar, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	mounts := "sysfs /sys sysfs rw 0 0\n"
	if mounted {
		mounts += "efivarfs " + varRoot + " efivarfs rw,nosuid 0 0\n"
	}
	s.write(filepath.Join(writeDir(t, s.cfg.ProcRoot, "self"), "mounts"), []byte(mounts), 0o644)
	s.payload.Options.EFISetup = true
	return varRoot
}

func writeDir(t *testing.T, parts ...string) string {
	t.Helper()
	dir := filepath.Join(parts...)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRunSetsUpEFI(t *testing.T) {
	s := newStage(t)
	vs := efi.Vars{Root: withEFI(t, s, true)}
	if err := s.run(); err != nil {
		t.Fatalf("Run = %v\nconsole:\n%s", err, s.console.String())
	}
	v, err := vs.Read("Boot0001")
	if err != nil {
		t.Fatalf("reading the new boot entry: %v\n%s", err, s.console.String())
	}
	opt, err := efi.ParseLoadOption(v.Data)
	if err != nil {
		t.Fatal(err)
	}
	loader, _ := efi.DefaultLoader(runtime.GOARCH)
	var sig [16]byte
	binary.LittleEndian.PutUint32(sig[:], 0x1234abcd)
	want := efi.DevicePath{efi.HardDriveNode(efi.PartitionRef{Number: 1, StartLBA: 2048,
		SizeLBA: 4096, Signature: sig, MBR: true}), efi.FilePathNode(loader)}
	if opt.Description != "balenaOS" || opt.FilePath.String() != want.String() {
		t.Errorf("Boot0001 = %q %s, want balenaOS %s", opt.Description, opt.FilePath, want)
	}
	order, err := vs.Read("BootOrder")
	if err != nil || string(order.Data) != string([]byte{1, 0, 0, 0}) {
		t.Errorf("BootOrder = %x, %v, want 01000000", order.Data, err)
	}
	if err := contains(s.console.String(), "EFI boot entry written and verified",
		markerDone); err != nil {
		t.Errorf("console: %v\n%s", err, s.console.String())
	}
}

// EFI setup is skipped on BIOS machines and when the plan turns it off;
// a failed EFI setup is reported and the migration still completes.
func TestRunEFISkippedOrFailing(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, s *stage)
		wantLog string
	}{
		{name: "BIOS", wantLog: "no EFI firmware, skipping EFI setup",
			setup: func(t *testing.T, s *stage) {
				withEFI(t, s, true)
				if err := os.RemoveAll(filepath.Join(s.cfg.SysRoot, "firmware")); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "turned off", wantLog: "EFI setup turned off by the plan",
			setup: func(t *testing.T, s *stage) {
				withEFI(t, s, true)
				s.payload.Options.EFISetup = false
			}},
		{name: "efivarfs cannot be mounted", wantLog: "mounting efivarfs: stat efivarfs",
			setup: func(t *testing.T, s *stage) { withEFI(t, s, false) }},
		{name: "image without a partition table", wantLog: "no partition table",
			setup: func(t *testing.T, s *stage) {
				withEFI(t, s, true)
				s.raw[510] = 0 // no MBR signature: the table cannot be read
				s.payload.Image.RawSHA256 = digest(s.raw)
				s.write(s.payload.Image.Path, gzipped(t, s.raw), 0o644)
				s.payload.Image.Size, s.payload.Image.SHA256 = fileDigest(t, s.payload.Image.Path)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStage(t)
			tt.setup(t, s)
			if err := s.run(); err != nil {
				t.Fatalf("Run = %v, want nil\n%s", err, s.console.String())
			}
			if err := contains(s.console.String(), tt.wantLog, markerDone); err != nil {
				t.Errorf("console: %v\n%s", err, s.console.String())
			}
			vs := efi.Vars{Root: filepath.Join(s.cfg.SysRoot, "firmware", "efi", "efivars")}
			if _, err := vs.Read("Boot0001"); err == nil {
				t.Error("Boot0001 written, want no new boot entry")
			}
			if strings.Contains(s.console.String(), "written and verified") {
				t.Error("console says an entry was written")
			}
		})
	}
}
