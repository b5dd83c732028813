package disk

import (
	"bytes"
	"errors"
	"testing"
)

func TestReadTableFakeMBR(t *testing.T) {
	m := fakeMBRDisk()
	tab, err := ReadTable(m, int64(len(m)), 0)
	if err != nil {
		t.Fatalf("ReadTable() error: %v", err)
	}
	want := []Partition{
		{Number: 1, Start: 1 << 20, Size: 2 << 20, Type: "0x0e", FSType: "vfat", Label: "resin-boot"},
		{Number: 2, Start: 3 << 20, Size: 5 << 20, Type: "0x0f"},
		{Number: 5, Start: 4 << 20, Size: 1 << 20, Type: "0x83", FSType: "ext4", Label: "resin-state"},
		{Number: 6, Start: 6 << 20, Size: 1 << 20, Type: "0x83", FSType: "ext3", Label: "resin-data"},
	}
	if len(tab.Partitions) != len(want) {
		t.Fatalf("ReadTable() = %+v, want %+v", tab.Partitions, want)
	}
	for i := range want {
		if tab.Partitions[i] != want[i] {
			t.Errorf("partition %d = %+v, want %+v", i, tab.Partitions[i], want[i])
		}
	}
}

func TestReadTableRefusals(t *testing.T) {
	tests := []struct {
		name   string
		disk   func() mem
		size   int64
		errHas string
	}{
		{name: "no signature", disk: func() mem { return make(mem, 1<<20) },
			errHas: "no partition table"},
		{name: "partition past the end", disk: fakeMBRDisk, size: 7 << 20,
			errHas: "beyond the disk's end"},
		{name: "EBR chain going backwards", disk: func() mem {
			m := fakeMBRDisk()
			putEntry(m[5<<20:], 1, 0x05, 0, 2048) // points back to the first EBR
			return m
		}, errHas: "does not follow"},
		{name: "GPT header CRC", disk: func() mem {
			m := fakeGPTDisk([]gptPart{{first: 2048, last: 4095, typ: linuxGUID, name: "a"}})
			m[512+40]++ // first usable LBA
			return m
		}, errHas: "GPT header CRC"},
		{name: "GPT entries CRC", disk: func() mem {
			m := fakeGPTDisk([]gptPart{{first: 2048, last: 4095, typ: linuxGUID, name: "a"}})
			m[1024+56]++ // name
			return m
		}, errHas: "GPT entries CRC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.disk()
			size := tt.size
			if size == 0 {
				size = int64(len(m))
			}
			_, err := ReadTable(m, size, 0)
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.errHas)) {
				t.Errorf("ReadTable(%s) error = %v, want one containing %q", tt.name, err, tt.errHas)
			}
		})
	}
}

func TestReadTableFakeGPT(t *testing.T) {
	m := fakeGPTDisk([]gptPart{
		{first: 2048, last: 4095, typ: linuxGUID, name: "resin-data"},
		{}, // unused slot: the next partition is still number 3
		{first: 4096, last: 6143, typ: linuxGUID, name: "Ünïcode"},
	})
	fakeExt(m, 2048*512, "resin-data", 0, extIncompat64Bit)
	tab, err := ReadTable(m, int64(len(m)), 512)
	if err != nil {
		t.Fatalf("ReadTable() error: %v", err)
	}
	want := []Partition{
		{Number: 1, Start: 1 << 20, Size: 1 << 20, Type: "0fc63daf-8483-4772-8e79-3d69ed7d8e4c",
			Name: "resin-data", FSType: "ext4", Label: "resin-data"},
		{Number: 3, Start: 2 << 20, Size: 1 << 20, Type: "0fc63daf-8483-4772-8e79-3d69ed7d8e4c",
			Name: "Ünïcode"},
	}
	if tab.Kind != "gpt" || len(tab.Partitions) != len(want) {
		t.Fatalf("ReadTable() = %s %+v, want gpt %+v", tab.Kind, tab.Partitions, want)
	}
	for i := range want {
		if tab.Partitions[i] != want[i] {
			t.Errorf("partition %d = %+v, want %+v", i, tab.Partitions[i], want[i])
		}
	}
}

func TestProbe(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(m mem)
		wantFS    string
		wantLabel string
	}{
		{name: "empty", setup: func(mem) {}},
		{name: "ext2", setup: func(m mem) { fakeExt(m, 0, "old", 0, 0) },
			wantFS: "ext2", wantLabel: "old"},
		{name: "ext3", setup: func(m mem) { fakeExt(m, 0, "j", extCompatJournal, 0) },
			wantFS: "ext3", wantLabel: "j"},
		{name: "ext4", setup: func(m mem) {
			fakeExt(m, 0, "resin-rootA", extCompatJournal, extIncompatExtents)
		}, wantFS: "ext4", wantLabel: "resin-rootA"},
		{name: "fat16 root-directory label wins", setup: func(m mem) {
			fakeFAT16(m, 0, "BOOTSECT", "resin-boot")
		}, wantFS: "vfat", wantLabel: "resin-boot"},
		{name: "fat16 boot-sector label", setup: func(m mem) { fakeFAT16(m, 0, "BOOT", "") },
			wantFS: "vfat", wantLabel: "BOOT"},
		{name: "fat16 no name", setup: func(m mem) { fakeFAT16(m, 0, "NO NAME", "") },
			wantFS: "vfat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := make(mem, 64<<10)
			tt.setup(m)
			fs, label, err := Probe(m, 0)
			if err != nil || fs != tt.wantFS || label != tt.wantLabel {
				t.Errorf("Probe(%s) = %q, %q, %v, want %q, %q, nil",
					tt.name, fs, label, err, tt.wantFS, tt.wantLabel)
			}
		})
	}
}

type failingReader struct{ err error }

func (f failingReader) ReadAt([]byte, int64) (int, error) { return 0, f.err }

func TestProbeKeepsReadErrors(t *testing.T) {
	eio := errors.New("input/output error")
	if _, _, err := Probe(failingReader{eio}, 4096); !errors.Is(err, eio) {
		t.Errorf("Probe(failing reader) error = %v, want it to wrap %v", err, eio)
	}
}

func TestWipe(t *testing.T) {
	m := make(mem, 4<<20)
	for i := range m {
		m[i] = 0xa5
	}
	if err := Wipe(m, int64(len(m)), 512); err != nil {
		t.Fatalf("Wipe() error: %v", err)
	}
	tail := int64(len(m)) - 33*512
	for i, b := range m {
		zeroed := int64(i) < 1<<20 || int64(i) >= tail
		if (b == 0) != zeroed {
			t.Fatalf("after Wipe byte %d = %#x, want zeroed=%v", i, b, zeroed)
		}
	}
}

func TestRelocateGPTBackupInMemory(t *testing.T) {
	small := fakeGPTDisk([]gptPart{{first: 2048, last: 4095, typ: linuxGUID, name: "resin-data"}})
	big := make(mem, 16<<20)
	copy(big, small)
	if err := RelocateGPTBackup(big, int64(len(big)), 512); err != nil {
		t.Fatalf("RelocateGPTBackup() error: %v", err)
	}
	h, err := parseGPTHeader(big[len(big)-512:])
	if err != nil {
		t.Fatalf("backup header after relocation: %v", err)
	}
	last := uint64(len(big)/512 - 1)
	if h.myLBA != last || h.altLBA != 1 || h.entriesLBA != last-32 {
		t.Errorf("backup header = my %d alt %d entries %d, want %d 1 %d",
			h.myLBA, h.altLBA, h.entriesLBA, last, last-32)
	}
	if _, err := readGPTEntries(big, h, 512); err != nil {
		t.Errorf("backup entries: %v", err)
	}
	p, _, err := readGPTHeader(big, 512)
	if err != nil || p.altLBA != last || p.lastUsed != last-33 {
		t.Errorf("primary header = %+v, %v, want alt %d last usable %d", p, err, last, last-33)
	}
	if err := RelocateGPTBackup(big[:1<<20], 1<<20, 512); err == nil {
		t.Errorf("RelocateGPTBackup(disk smaller than the partitions) = nil, want an error")
	}
}

func TestRelocateGPTBackupLeavesMBRAlone(t *testing.T) {
	m := fakeMBRDisk()
	before := bytes.Clone(m)
	if err := RelocateGPTBackup(m, int64(len(m)), 512); err != nil {
		t.Fatalf("RelocateGPTBackup(mbr) error: %v", err)
	}
	if !bytes.Equal(m, before) {
		t.Errorf("RelocateGPTBackup(mbr) changed the disk")
	}
}
