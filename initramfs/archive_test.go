package initramfs

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/takeover-dev/takeover/kmod"
	"github.com/takeover-dev/takeover/plan"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// fixture is a payload and a device archive built from files in a temp dir.
type fixture struct {
	dir      string
	files    map[string][]byte // archive path -> expected contents
	payload  []Entry
	device   []Entry
	combined []byte
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

func testPlan() *plan.Payload {
	return &plan.Payload{
		Version: plan.Version, CreatedBy: "test", Arch: "amd64",
		Image: plan.Image{Path: plan.ImageDir + "/balena.img.gz", Compression: "gzip", Size: 3000,
			SHA256: strings.Repeat("a", 64), RawSize: 1 << 20, RawSHA256: strings.Repeat("b", 64),
			Table: "gpt", Partitions: []plan.Partition{{Name: "resin-boot", Number: 1}}},
		Files: []plan.File{{Source: plan.ConfigJSONPath, Partition: "resin-boot",
			Target: "/config.json", Mode: 0o600}},
	}
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{dir: dir, files: map[string][]byte{}}
	add := func(archivePath, hostName string, data []byte) string {
		f.files[archivePath] = data
		return writeFile(t, filepath.Join(dir, hostName), data)
	}
	image := bytes.Repeat([]byte("image data "), 3000/11+1)[:3000]
	in := PayloadInput{
		Init:        add("/init", "takeover", []byte("#!fake init binary\n")),
		Image:       add(plan.ImageDir+"/balena.img.gz", "balena.img.gz", image),
		ConfigJSON:  add(plan.ConfigJSONPath, "config.json", []byte(`{"apiKey":"secret"}`)),
		Connections: []string{add(plan.ConnectionsDir+"/wifi", "nm/wifi", []byte("[wifi]\npsk=x\n"))},
		Backup:      add(plan.BackupPath, "backup.tgz", []byte{}),
		Plan:        testPlan(),
	}
	var err error
	if f.payload, err = PayloadEntries(in); err != nil {
		t.Fatalf("PayloadEntries() error: %v", err)
	}

	modDir := filepath.Join(dir, "modules")
	mods := []kmod.Module{
		{Name: "virtio_ring", Path: "kernel/drivers/virtio/virtio_ring.ko"},
		{Name: "virtio", Path: "kernel/drivers/virtio/virtio.ko"},
	}
	for _, m := range mods {
		data := []byte("\x7fELF " + m.Name)
		writeFile(t, filepath.Join(modDir, m.Path), data)
		f.files[plan.ModulesDir+"/"+m.Path] = data
	}
	dev := &plan.Device{Version: plan.Version, KernelRelease: "6.1.0-57-cloud-amd64",
		Disk: plan.DiskIdentity{Name: "vda", SysfsPath: "/devices/pci0000:00/0000:00:04.0/virtio1/block/vda",
			Size: 1 << 30, LogicalSectorSize: 512}}
	if f.device, err = DeviceEntries(modDir, mods, dev); err != nil {
		t.Fatalf("DeviceEntries() error: %v", err)
	}

	var buf bytes.Buffer
	if err := WriteArchive(&buf, f.payload); err != nil {
		t.Fatalf("WriteArchive(payload) error: %v", err)
	}
	if err := WriteArchive(&buf, f.device); err != nil {
		t.Fatalf("WriteArchive(device) error: %v", err)
	}
	f.combined = buf.Bytes()
	return f
}

func TestRoundTrip(t *testing.T) {
	f := newFixture(t)
	l, err := Inspect(bytes.NewReader(f.combined), int64(len(f.combined)))
	if err != nil {
		t.Fatalf("Inspect() error: %v", err)
	}
	if len(l.Segments) != 2 {
		t.Errorf("Inspect() segments = %+v, want 2", l.Segments)
	}
	if len(l.Problems) != 0 {
		t.Errorf("Inspect() problems = %q, want none", l.Problems)
	}
	if l.Payload == nil || l.Payload.Image.Path != testPlan().Image.Path {
		t.Errorf("Inspect() payload plan = %+v, want the test plan", l.Payload)
	}
	wantMods := []string{plan.ModulesDir + "/kernel/drivers/virtio/virtio_ring.ko",
		plan.ModulesDir + "/kernel/drivers/virtio/virtio.ko"}
	if l.Device == nil || fmt.Sprint(l.Device.Modules) != fmt.Sprint(wantMods) {
		t.Errorf("Inspect() device plan = %+v, want modules %v", l.Device, wantMods)
	}

	for name, want := range f.files {
		r, err := Extract(bytes.NewReader(f.combined), int64(len(f.combined)), name)
		if err != nil {
			t.Errorf("Extract(%s) error: %v", name, err)
			continue
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("Extract(%s) = %q, %v, want %q", name, got, err, want)
		}
	}
	con, ok := l.Find("/dev/console")
	if !ok || con.Mode != os.ModeDevice|os.ModeCharDevice|0o600 || con.Rmajor != 5 || con.Rminor != 1 {
		t.Errorf("Find(/dev/console) = %+v, %v, want char 5:1 0600", con, ok)
	}
	if c, _ := l.Find(plan.ConfigJSONPath); c.Mode != 0o600 {
		t.Errorf("Find(%s).Mode = %v, want 0600", plan.ConfigJSONPath, c.Mode)
	}
}

func TestReproducible(t *testing.T) {
	a, b := newFixture(t), newFixture(t)
	if !bytes.Equal(a.combined, b.combined) {
		t.Errorf("two builds from equal inputs differ (%d and %d bytes)", len(a.combined), len(b.combined))
	}
}

// The manifest (names, modes, sizes, owners) of the payload and device
// archives is pinned in testdata/archive.golden; go test ./initramfs -update
// rewrites it.
func TestGoldenManifest(t *testing.T) {
	f := newFixture(t)
	l, err := Inspect(bytes.NewReader(f.combined), int64(len(f.combined)))
	if err != nil {
		t.Fatalf("Inspect() error: %v", err)
	}
	var got bytes.Buffer
	for _, m := range l.Members {
		fmt.Fprintf(&got, "%d %s %d:%d %d %d:%d %s\n", m.Segment, modeString(m.Mode), m.UID, m.GID,
			m.Size, m.Rmajor, m.Rminor, m.Name)
	}
	golden := filepath.Join("testdata", "archive.golden")
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("reading golden file (run go test ./initramfs -update): %v", err)
	}
	if got.String() != string(want) {
		t.Errorf("manifest =\n%s\nwant (%s)\n%s", got.String(), golden, want)
	}
}

// A file of 4 GiB or more cannot be described by newc's 32-bit size
// field; it must be refused before a byte is written, not truncated.
func TestRefusesFourGiB(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.img")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 32); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var out bytes.Buffer
	err = WriteArchive(&out, []Entry{
		{Path: "/init", Mode: 0o755, Data: []byte("x")},
		{Path: "/takeover/image/big.img", Source: big, Mode: 0o644},
	})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("WriteArchive(4 GiB file) error = %v, want ErrTooLarge", err)
	}
	if out.Len() != 0 {
		t.Errorf("WriteArchive(4 GiB file) wrote %d bytes, want 0", out.Len())
	}
}

func TestWriteArchiveRefuses(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, filepath.Join(dir, "f"), []byte("x"))
	tests := []struct {
		name    string
		entries []Entry
	}{
		{name: "relative path", entries: []Entry{{Path: "init", Data: []byte("x")}}},
		{name: "unclean path", entries: []Entry{{Path: "/a/../init", Data: []byte("x")}}},
		{name: "root", entries: []Entry{{Path: "/", Mode: os.ModeDir | 0o755}}},
		{name: "duplicate", entries: []Entry{{Path: "/a", Data: []byte("x")}, {Path: "/a", Data: []byte("y")}}},
		{name: "parent is a file", entries: []Entry{{Path: "/a", Data: []byte("x")}, {Path: "/a/b", Data: []byte("y")}}},
		{name: "directory with data", entries: []Entry{{Path: "/d", Mode: os.ModeDir | 0o755, Data: []byte("x")}}},
		{name: "source and data", entries: []Entry{{Path: "/f", Source: file, Data: []byte("x")}}},
		{name: "source is a directory", entries: []Entry{{Path: "/f", Source: dir}}},
		{name: "missing source", entries: []Entry{{Path: "/f", Source: filepath.Join(dir, "nope")}}},
		{name: "symlink type", entries: []Entry{{Path: "/l", Mode: os.ModeSymlink | 0o777}}},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		if err := WriteArchive(&out, tt.entries); err == nil || out.Len() != 0 {
			t.Errorf("WriteArchive(%s) = %v with %d bytes written, want an error and nothing written",
				tt.name, err, out.Len())
		}
	}
}

// A source that grows or shrinks between planning and copying must fail
// the write, not yield an archive whose header and body disagree.
func TestCopySourceChangedSize(t *testing.T) {
	file := writeFile(t, filepath.Join(t.TempDir(), "f"), []byte("0123456789"))
	for _, planned := range []int64{5, 20} {
		err := copySource(io.Discard, file, planned)
		if !errors.Is(err, ErrChanged) {
			t.Errorf("copySource(10-byte file, planned %d) error = %v, want ErrChanged", planned, err)
		}
	}
	if err := copySource(io.Discard, file, 10); err != nil {
		t.Errorf("copySource(10-byte file, planned 10) error = %v, want nil", err)
	}
}

func TestPayloadEntriesRefusesPlanMismatch(t *testing.T) {
	dir := t.TempDir()
	p := testPlan()
	in := PayloadInput{
		Init:  writeFile(t, filepath.Join(dir, "init"), []byte("x")),
		Image: writeFile(t, filepath.Join(dir, "other.img.gz"), []byte("x")),
		Plan:  p,
	}
	if _, err := PayloadEntries(in); err == nil || !strings.Contains(err.Error(), "balena.img.gz") {
		t.Errorf("PayloadEntries(image named differently) error = %v, want one naming the image", err)
	}
	in.Image = writeFile(t, filepath.Join(dir, "balena.img.gz"), []byte("x"))
	if _, err := PayloadEntries(in); err == nil || !strings.Contains(err.Error(), plan.ConfigJSONPath) {
		t.Errorf("PayloadEntries(no config.json) error = %v, want one naming %s", err, plan.ConfigJSONPath)
	}
}

// Compressed segments, as other tools append them, are read too.
func TestInspectCompressedSegments(t *testing.T) {
	var plain, inner bytes.Buffer
	if err := WriteArchive(&plain, []Entry{{Path: "/a", Data: []byte("plain")}}); err != nil {
		t.Fatal(err)
	}
	if err := WriteArchive(&inner, []Entry{{Path: "/b", Data: []byte("gzipped")}}); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(inner.Bytes())
	zw.Write(inner.Bytes()) // two archives in one stream
	zw.Close()
	inner.Reset()
	if err := WriteArchive(&inner, []Entry{{Path: "/c", Data: []byte("zstd")}}); err != nil {
		t.Fatal(err)
	}
	var zs bytes.Buffer
	zsw, _ := zstd.NewWriter(&zs)
	zsw.Write(inner.Bytes())
	zsw.Close()

	file := append(append(append(append([]byte{}, plain.Bytes()...), gz.Bytes()...),
		make([]byte, 4-len(gz.Bytes())%4+4)...), zs.Bytes()...)
	l, err := Inspect(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatalf("Inspect() error: %v", err)
	}
	var got []string
	for _, s := range l.Segments {
		got = append(got, s.Compression)
	}
	if want := "[none gzip zstd]"; fmt.Sprint(got) != want {
		t.Errorf("Inspect() segments = %v, want %s", got, want)
	}
	for name, want := range map[string]string{"/a": "plain", "/b": "gzipped", "/c": "zstd"} {
		r, err := Extract(bytes.NewReader(file), int64(len(file)), name)
		if err != nil {
			t.Errorf("Extract(%s) error: %v", name, err)
			continue
		}
		if b, err := io.ReadAll(r); err != nil || string(b) != want {
			t.Errorf("Extract(%s) = %q, %v, want %q", name, b, err, want)
		}
	}
}

func TestInspectTruncated(t *testing.T) {
	f := newFixture(t)
	cut := f.combined[:len(f.combined)/3]
	if _, err := Inspect(bytes.NewReader(cut), int64(len(cut))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Inspect(truncated) error = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestPrintRedacts(t *testing.T) {
	f := newFixture(t)
	l, err := Inspect(bytes.NewReader(f.combined), int64(len(f.combined)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := l.Print(&out); err != nil {
		t.Fatalf("Print() error: %v", err)
	}
	for _, want := range []string{"crw-------", "5:1", "/dev/console", plan.PayloadPlanPath,
		`"rawSha256"`, plan.DevicePlanPath, "6.1.0-57-cloud-amd64"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("Print() output lacks %q:\n%s", want, out.String())
		}
	}

	doc := map[string]any{"apiKey": "s1", "nested": []any{map[string]any{"PSK": "s2",
		"deviceApiKey": "s3", "ok": "visible"}}}
	got := fmt.Sprint(redact(doc))
	if strings.Contains(got, "s1") || strings.Contains(got, "s2") || strings.Contains(got, "s3") ||
		!strings.Contains(got, "visible") {
		t.Errorf("redact() = %s, want secrets redacted and other values kept", got)
	}
}

func FuzzInspect(f *testing.F) {
	fx := newFixture(f)
	f.Add(fx.combined)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(fx.combined[:512])
	zw.Close()
	f.Add(gz.Bytes())
	f.Add([]byte("070701"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Inspect(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for _, m := range l.Members {
			if m.Mode.IsRegular() && l.Segments[m.Segment].Compression == CompressionNone &&
				m.Offset+m.Size > int64(len(data)) {
				t.Errorf("member %s body [%d, +%d) past the end (%d)", m.Name, m.Offset, m.Size, len(data))
			}
		}
		var out bytes.Buffer
		if err := l.Print(&out); err != nil {
			t.Errorf("Print() error: %v", err)
		}
	})
}
