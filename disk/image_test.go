package disk_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/takeover-dev/takeover/disk"
	"github.com/takeover-dev/takeover/internal/testimage"
)

func buildImage(t *testing.T, o testimage.Options) (string, []testimage.Partition) {
	t.Helper()
	if missing := testimage.MissingTools(); len(missing) > 0 {
		t.Skipf("building test images needs %s", strings.Join(missing, ", "))
	}
	path, err := testimage.Build(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	layout, err := testimage.Layout(o)
	if err != nil {
		t.Fatal(err)
	}
	return path, layout
}

func readTable(t *testing.T, path string) *disk.Table {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	tab, err := disk.ReadTable(f, st.Size(), 0)
	if err != nil {
		t.Fatalf("ReadTable(%s) error: %v", path, err)
	}
	return tab
}

func TestReadTableSyntheticImages(t *testing.T) {
	tests := []struct {
		name     string
		opts     testimage.Options
		wantKind string
	}{
		{name: "mbr", opts: testimage.Options{Table: "mbr"}, wantKind: "mbr"},
		{name: "gpt", opts: testimage.Options{Table: "gpt"}, wantKind: "gpt"},
		{name: "mbr flasher", opts: testimage.Options{Table: "mbr", Flasher: true}, wantKind: "mbr"},
		{name: "gpt flasher", opts: testimage.Options{Table: "gpt", Flasher: true}, wantKind: "gpt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, layout := buildImage(t, tt.opts)
			tab := readTable(t, path)
			if tab.Kind != tt.wantKind {
				t.Errorf("ReadTable(%s).Kind = %q, want %q", tt.name, tab.Kind, tt.wantKind)
			}
			if len(tab.Partitions) != len(layout) {
				t.Fatalf("ReadTable(%s) found %d partitions, want %d: %+v",
					tt.name, len(tab.Partitions), len(layout), tab.Partitions)
			}
			for _, want := range layout {
				checkPartition(t, tab, want, tt.wantKind)
			}
		})
	}
}

func checkPartition(t *testing.T, tab *disk.Table, want testimage.Partition, kind string) {
	t.Helper()
	got, ok := tab.Number(want.Number)
	if !ok {
		t.Errorf("partition %d missing", want.Number)
		return
	}
	wantName := ""
	if kind == "gpt" {
		wantName = want.Label
	}
	if got.Start != want.Start || got.Size != want.Size || got.FSType != want.FSType ||
		got.Label != want.Label || got.Name != wantName {
		t.Errorf("partition %d = %+v, want start %d size %d fs %q label %q name %q",
			want.Number, got, want.Start, want.Size, want.FSType, want.Label, wantName)
	}
	if want.Label == "" {
		return
	}
	found, ok := tab.Find("no-such-label", want.Label)
	if !ok || found.Number != want.Number {
		t.Errorf("Find(%q) = %d, %v, want %d, true", want.Label, found.Number, ok, want.Number)
	}
}

func TestRelocateGPTBackupMatchesSgdisk(t *testing.T) {
	sgdisk, err := exec.LookPath("sgdisk")
	if err != nil {
		t.Skip("sgdisk not installed")
	}
	path, _ := buildImage(t, testimage.Options{Table: "gpt"})
	const diskSize = 200 << 20
	if err := os.Truncate(path, diskSize); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(sgdisk, "-v", path).CombinedOutput()
	if strings.Contains(string(out), "No problems found") {
		t.Fatalf("sgdisk -v finds no problem before relocation, so this test proves nothing:\n%s", out)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := disk.RelocateGPTBackup(f, diskSize, 512); err != nil {
		t.Fatalf("RelocateGPTBackup() error: %v", err)
	}
	out, err = exec.Command(sgdisk, "-v", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No problems found") {
		t.Fatalf("sgdisk -v after RelocateGPTBackup: %v\n%s", err, out)
	}
	tab := readTable(t, path)
	if _, ok := tab.Find("resin-data"); !ok {
		t.Errorf("ReadTable after relocation has no resin-data: %+v", tab.Partitions)
	}
}
