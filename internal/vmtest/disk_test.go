package vmtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/deps.sh installs it)", tool)
		}
	}
}

func run(t *testing.T, stdin string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
}

// makeImage builds a 24 MiB disk image like a small balenaOS one: a vfat
// resin-boot partition at 1 MiB (8 MiB) and an ext4 resin-data partition
// after it, under an MBR or GPT table.
func makeImage(t *testing.T, label string) string {
	t.Helper()
	requireTools(t, "sfdisk", "mkfs.vfat", "mke2fs", "debugfs", "mtype", "mcopy")
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 24<<20); err != nil {
		t.Fatal(err)
	}
	table := "label: " + label + "\nstart=2048, size=16384, type=L\nstart=18432, type=L\n"
	run(t, table, "sfdisk", "-q", img)
	run(t, "", "mkfs.vfat", "-n", "RESIN-BOOT", "--offset=2048", img, "8192")
	run(t, "", "mke2fs", "-q", "-F", "-t", "ext4", "-L", "resin-data",
		"-E", "offset="+strconv.Itoa(18432*512), img, strconv.Itoa((49152-18432-34)/2)+"k")
	marker := filepath.Join(t.TempDir(), "marker.txt")
	if err := os.WriteFile(marker, []byte("boot marker\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "", "mcopy", "-i", img+"@@1048576", marker, "::/marker.txt")
	return img
}

func TestReadTable(t *testing.T) {
	tests := []struct {
		name      string
		label     string
		wantKind  string
		wantNames []string
	}{
		{name: "mbr", label: "dos", wantKind: "mbr"},
		{name: "gpt", label: "gpt", wantKind: "gpt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := makeImage(t, tt.label)
			f, err := os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			table, err := ReadTable(f)
			if err != nil {
				t.Fatalf("ReadTable(%s) = %v", tt.name, err)
			}
			if table.Kind != tt.wantKind || len(table.Partitions) != 2 {
				t.Fatalf("ReadTable(%s) = %+v, want %s with 2 partitions", tt.name, table, tt.wantKind)
			}
			boot, ok := table.ByLabel("RESIN-BOOT")
			if !ok || boot.Number != 1 || boot.Start != 1<<20 || boot.Size != 8<<20 {
				t.Errorf("ByLabel(RESIN-BOOT) = %+v, %v; want partition 1 at 1 MiB, 8 MiB", boot, ok)
			}
			data, ok := table.ByLabel("resin-data")
			if !ok || data.Number != 2 || data.Start != 18432*512 {
				t.Errorf("ByLabel(resin-data) = %+v, %v; want partition 2 at sector 18432", data, ok)
			}
		})
	}
}

// TestReadTableLogical pins the layout balenaOS uses on MBR: resin-state and
// resin-data are logical partitions 5 and 6 inside an extended partition 4.
func TestReadTableLogical(t *testing.T) {
	requireTools(t, "sfdisk", "mke2fs")
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 32<<20); err != nil {
		t.Fatal(err)
	}
	run(t, "label: dos\nstart=2048, size=4096, type=c\nstart=6144, size=4096\n"+
		"start=10240, size=4096\nstart=14336, type=5\nstart=16384, size=4096\n"+
		"start=22528, size=8192\n", "sfdisk", "-q", img)
	run(t, "", "mke2fs", "-q", "-F", "-t", "ext4", "-L", "resin-data",
		"-E", "offset="+strconv.Itoa(22528*512), img, "4096k")
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	table, err := ReadTable(f)
	if err != nil {
		t.Fatalf("ReadTable() = %v", err)
	}
	var numbers []int
	for _, p := range table.Partitions {
		numbers = append(numbers, p.Number)
	}
	if want := []int{1, 2, 3, 4, 5, 6}; !slices.Equal(numbers, want) {
		t.Errorf("ReadTable() numbers = %v, want %v", numbers, want)
	}
	data, ok := table.ByLabel("resin-data")
	if !ok || data.Number != 6 || data.Start != 22528*512 || data.Size != 8192*512 {
		t.Errorf("ByLabel(resin-data) = %+v, %v; want logical partition 6 at sector 22528", data, ok)
	}
}

func TestReadTableRejectsBlank(t *testing.T) {
	if _, err := ReadTable(bytes.NewReader(make([]byte, 4096))); err == nil {
		t.Error("ReadTable(zeros) = nil error, want no boot signature")
	}
}

func TestFilesystemsRoundTrip(t *testing.T) {
	img := makeImage(t, "dos")
	const dataOffset = 18432 * 512
	files := []File{
		{Path: "/etc/takeover/config.json", Data: []byte(`{"a":1}`), Mode: 0o600},
		{Path: "/etc/takeover/scenario.sh", Data: []byte("echo hi\n"), Mode: 0o755},
		{Path: "/top.txt", Data: []byte("top")},
	}
	if err := InjectExt4(img, dataOffset, files); err != nil {
		t.Fatalf("InjectExt4() = %v", err)
	}
	// Injecting again replaces the files instead of failing.
	files[0].Data = []byte(`{"a":2}`)
	if err := InjectExt4(img, dataOffset, files); err != nil {
		t.Fatalf("InjectExt4() again = %v", err)
	}
	got, err := ReadExt4(img, dataOffset, "/etc/takeover/config.json")
	if err != nil || string(got) != `{"a":2}` {
		t.Errorf("ReadExt4(config.json) = %q, %v; want the replaced content", got, err)
	}
	list, err := ListExt4(img, dataOffset, "/etc/takeover")
	if err != nil || !strings.Contains(list, "100600") || !strings.Contains(list, "100755") {
		t.Errorf("ListExt4(/etc/takeover) = %q, %v; want modes 0600 and 0755", list, err)
	}
	if _, err := ReadExt4(img, dataOffset, "/missing"); err == nil {
		t.Error("ReadExt4(/missing) = nil error, want file not found")
	}
	boot, err := ReadVFAT(img, 1<<20, "/marker.txt")
	if err != nil || string(boot) != "boot marker\n" {
		t.Errorf("ReadVFAT(marker.txt) = %q, %v; want the marker", boot, err)
	}
	if _, err := ReadVFAT(img, 1<<20, "/missing.txt"); err == nil {
		t.Error("ReadVFAT(missing.txt) = nil error, want an error")
	}
}

func TestCompareOutside(t *testing.T) {
	image := bytes.Repeat([]byte("0123456789abcdef"), 1<<17) // 2 MiB
	tests := []struct {
		name    string
		flip    []int64
		skip    []Extent
		wantErr string
	}{
		{name: "identical"},
		{name: "difference inside a skipped extent", flip: []int64{5000},
			skip: []Extent{{Start: 4096, End: 8192}}},
		{name: "difference outside", flip: []int64{5000, 1<<20 + 7},
			skip: []Extent{{Start: 4096, End: 8192}}, wantErr: "at byte 1048583"},
		{name: "difference at the skip's end", flip: []int64{8192},
			skip: []Extent{{Start: 4096, End: 8192}}, wantErr: "at byte 8192"},
		{name: "last byte", flip: []int64{2<<20 - 1}, wantErr: "at byte 2097151"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			disk := append([]byte(nil), image...)
			disk = append(disk, make([]byte, 4096)...) // a disk is larger than its image
			for _, off := range tt.flip {
				disk[off] ^= 0xff
			}
			err := CompareOutside(bytes.NewReader(disk), bytes.NewReader(image), int64(len(image)), tt.skip)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil ||
				!strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("CompareOutside() = %v, want %q", err, tt.wantErr)
			}
		})
	}
	err := CompareOutside(bytes.NewReader(image[:100]), bytes.NewReader(image), 200, nil)
	if err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Errorf("CompareOutside(short disk) = %v, want unexpected EOF", err)
	}
}

func TestStageTwoExtents(t *testing.T) {
	table := Table{Kind: "gpt", Partitions: []Partition{
		{Number: 1, Start: 1 << 20, Size: 8 << 20, Label: "resin-boot"},
		{Number: 6, Start: 100 << 20, Size: 20 << 20, Name: "resin-data"},
	}}
	skip, err := StageTwoExtents(table, 200<<20, "resin-boot", "resin-data")
	if err != nil {
		t.Fatal(err)
	}
	want := []Extent{
		{1 << 20, 9 << 20, "partition resin-boot"},
		{100 << 20, 120 << 20, "partition resin-data"},
		{446, 510, "protective MBR entries"},
		{512, 1024, "primary GPT header"},
		{200<<20 - 33*512, 200 << 20, "image's backup GPT"},
	}
	if len(skip) != len(want) {
		t.Fatalf("StageTwoExtents() = %+v, want %+v", skip, want)
	}
	for i := range want {
		if skip[i] != want[i] {
			t.Errorf("StageTwoExtents()[%d] = %+v, want %+v", i, skip[i], want[i])
		}
	}
	if _, err := StageTwoExtents(table, 200<<20, "resin-rootC"); err == nil {
		t.Error("StageTwoExtents(resin-rootC) = nil error, want no such partition")
	}
}
