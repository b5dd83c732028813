package image

import (
	"archive/zip"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/internal/testimage"
	"github.com/takeover-dev/takeover/plan"
)

func build(t *testing.T, o testimage.Options) string {
	t.Helper()
	if missing := testimage.MissingTools(); len(missing) > 0 {
		t.Skipf("building test images needs %s", strings.Join(missing, ", "))
	}
	path, err := testimage.Build(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// sha256sum runs the sha256sum tool, independent of our code.
func sha256sum(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("sha256sum", path).Output()
	if err != nil {
		t.Skipf("sha256sum: %v", err)
	}
	return strings.Fields(string(out))[0]
}

// compress runs a compressor tool that writes path+suffix.
func compress(t *testing.T, path, tool string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s not installed", tool)
	}
	if out, err := exec.Command(tool, append(args, path)...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, path, err, out)
	}
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name       string
		opts       testimage.Options
		compress   func(t *testing.T, raw string) string
		wantFormat Format
		wantBoot   int
		wantData   int
	}{
		{name: "mbr raw", opts: testimage.Options{Table: "mbr"}, wantFormat: Raw,
			wantBoot: 1, wantData: 6},
		{name: "gpt raw", opts: testimage.Options{Table: "gpt"}, wantFormat: Raw,
			wantBoot: 1, wantData: 5},
		{name: "mbr gzip", opts: testimage.Options{Table: "mbr"}, wantFormat: Gzip,
			wantBoot: 1, wantData: 6, compress: func(t *testing.T, raw string) string {
				compress(t, raw, "gzip", "-k")
				return raw + ".gz"
			}},
		{name: "gpt zstd", opts: testimage.Options{Table: "gpt"}, wantFormat: Zstd,
			wantBoot: 1, wantData: 5, compress: func(t *testing.T, raw string) string {
				compress(t, raw, "zstd", "-q", "-k")
				return raw + ".zst"
			}},
		{name: "mbr xz", opts: testimage.Options{Table: "mbr"}, wantFormat: XZ,
			wantBoot: 1, wantData: 6, compress: func(t *testing.T, raw string) string {
				compress(t, raw, "xz", "-k", "-0", "-T1")
				return raw + ".xz"
			}},
		{name: "mbr zip", opts: testimage.Options{Table: "mbr"}, wantFormat: Zip,
			wantBoot: 1, wantData: 6, compress: func(t *testing.T, raw string) string {
				return zipFiles(t, raw)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := build(t, tt.opts)
			path := raw
			if tt.compress != nil {
				path = tt.compress(t, raw)
			}
			im, err := Validate(context.Background(), path, Options{MaxRawSize: 1 << 30})
			if err != nil {
				t.Fatalf("Validate(%s) error: %v", tt.name, err)
			}
			st, _ := os.Stat(path)
			rawSt, _ := os.Stat(raw)
			if im.Compression != string(tt.wantFormat) || im.Path != path ||
				im.Size != st.Size() || im.RawSize != rawSt.Size() {
				t.Errorf("Validate(%s) = %s %s size %d raw %d, want %s %s %d %d", tt.name,
					im.Compression, im.Path, im.Size, im.RawSize, tt.wantFormat, path,
					st.Size(), rawSt.Size())
			}
			if want := sha256sum(t, path); im.SHA256 != want {
				t.Errorf("Validate(%s).SHA256 = %s, want %s", tt.name, im.SHA256, want)
			}
			if want := sha256sum(t, raw); im.RawSHA256 != want {
				t.Errorf("Validate(%s).RawSHA256 = %s, want %s", tt.name, im.RawSHA256, want)
			}
			checkParts(t, tt.opts, im.Partitions, tt.wantBoot, tt.wantData)
		})
	}
}

func checkParts(t *testing.T, o testimage.Options, got []plan.Partition, boot, data int) {
	t.Helper()
	layout, err := testimage.Layout(o)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]plan.Partition{}
	for _, p := range got {
		byName[p.Name] = p
	}
	for _, want := range layout {
		if want.Label == "" {
			continue
		}
		p, ok := byName[want.Label]
		if !ok || p.Number != want.Number || p.Start != want.Start || p.Size != want.Size ||
			p.FSType != want.FSType {
			t.Errorf("partition %s = %+v (found %v), want %+v", want.Label, p, ok, want)
		}
	}
	if byName["resin-boot"].Number != boot || byName["resin-data"].Number != data {
		t.Errorf("boot, data numbers = %d, %d, want %d, %d", byName["resin-boot"].Number,
			byName["resin-data"].Number, boot, data)
	}
}

func zipFiles(t *testing.T, paths ...string) string {
	t.Helper()
	out := paths[0] + ".zip"
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	for _, p := range paths {
		w, err := zw.Create(filepath.Base(p))
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestValidateRefuses(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T) string
		maxRaw  int64
		errHas  string
	}{
		{name: "flasher", prepare: func(t *testing.T) string {
			return build(t, testimage.Options{Flasher: true, Gzip: true})
		}, errHas: "use the raw image; takeover downloads it with imageType raw"},
		{name: "gpt flasher", prepare: func(t *testing.T) string {
			return build(t, testimage.Options{Table: "gpt", Flasher: true})
		}, errHas: "flasher image"},
		{name: "truncated gzip", prepare: func(t *testing.T) string {
			gz := build(t, testimage.Options{Gzip: true})
			return cut(t, gz, 0.5)
		}, errHas: "truncated or corrupt"},
		{name: "corrupt gzip", prepare: func(t *testing.T) string {
			gz := build(t, testimage.Options{Gzip: true})
			flip(t, gz, 0.5)
			return gz
		}, errHas: "truncated or corrupt"},
		{name: "empty", prepare: func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "empty.img.gz")
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, errHas: "image is empty"},
		{name: "zip with two files", prepare: func(t *testing.T) string {
			raw := build(t, testimage.Options{})
			other := filepath.Join(filepath.Dir(raw), "README.txt")
			if err := os.WriteFile(other, []byte("hello"), 0o644); err != nil {
				t.Fatal(err)
			}
			return zipFiles(t, raw, other)
		}, errHas: "zip archive holds 2 files"},
		{name: "too large", prepare: func(t *testing.T) string {
			return build(t, testimage.Options{Gzip: true})
		}, maxRaw: 63 << 20, errHas: "larger than the target disk"},
		{name: "raw cut short", prepare: func(t *testing.T) string {
			raw := build(t, testimage.Options{Table: "mbr"})
			return cut(t, raw, 0.8)
		}, errHas: "beyond the image's end"},
		{name: "not a disk image", prepare: func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "text.img")
			if err := os.WriteFile(p, []byte(strings.Repeat("hello\n", 1000)), 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, errHas: "no partition table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.prepare(t)
			im, err := Validate(context.Background(), path, Options{MaxRawSize: tt.maxRaw})
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("Validate(%s) = %+v, %v, want an error containing %q",
					tt.name, im, err, tt.errHas)
			}
			t.Logf("Validate(%s) error: %v", tt.name, err)
			if c := exitcode.Of(err); c != exitcode.Fetch {
				t.Errorf("exitcode.Of(Validate(%s)) = %v, want fetch", tt.name, c)
			}
		})
	}
}

// cut truncates the file to a fraction of its size.
func cut(t *testing.T, path string, frac float64) string {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, int64(float64(st.Size())*frac)); err != nil {
		t.Fatal(err)
	}
	return path
}

// flip inverts one byte at a fraction of the file.
func flip(t *testing.T, path string, frac float64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[int(float64(len(data))*frac)] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
