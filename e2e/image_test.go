//go:build e2e

package e2e

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/takeover-dev/takeover/internal/vmtest"
)

var (
	binDir   string
	binMu    sync.Mutex
	binBuilt = map[string]string{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "takeover-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildTool builds one of the module's commands, static, once per run.
func buildTool(t *testing.T, pkg string) string {
	t.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	if p, ok := binBuilt[pkg]; ok {
		return p
	}
	out := filepath.Join(binDir, filepath.Base(pkg))
	start := time.Now()
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./"+pkg)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s (not ready yet?): %v\n%s", pkg, err, lastLines(string(msg), 20))
	}
	t.Logf("built %s in %s", pkg, time.Since(start).Round(100*time.Millisecond))
	binBuilt[pkg] = out
	return out
}

// image is a synthetic balenaOS image made by cmd/mktestimage.
type image struct {
	Path  string // the .img.gz as served
	Raw   string // decompressed
	Table vmtest.Table
}

func (im image) partition(t *testing.T, label string) vmtest.Partition {
	t.Helper()
	p, ok := im.Table.ByLabel(label)
	if !ok {
		t.Fatalf("image %s has no partition labelled %s: %+v", im.Path, label, im.Table)
	}
	return p
}

// syntheticImage builds genericx86-64-ext 6.0.0 in its own directory (the
// fake API's image directory) with the given partition table and marker.
func syntheticImage(t *testing.T, table, marker string) image {
	t.Helper()
	tool := buildTool(t, "cmd/mktestimage")
	dir := t.TempDir()
	gz := filepath.Join(dir, "genericx86-64-ext-6.0.0.img.gz")
	out, err := exec.Command(tool, "-o", gz, "-table", table, "-device-type", "genericx86-64-ext",
		"-version", "6.0.0", "-marker", marker, "-busybox", "/bin/busybox", "-gzip").CombinedOutput()
	if err != nil {
		t.Fatalf("mktestimage: %v\n%s", err, out)
	}
	raw := gunzipFile(t, gz)
	f, err := os.Open(raw)
	must(t, err)
	defer f.Close()
	tab, err := vmtest.ReadTable(f)
	if err != nil {
		t.Fatalf("reading the synthetic image's table: %v", err)
	}
	return image{Path: gz, Raw: raw, Table: tab}
}

// gunzipFile decompresses path into the test's directory.
func gunzipFile(t *testing.T, path string) string {
	t.Helper()
	in, err := os.Open(path)
	must(t, err)
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		t.Fatalf("gunzip %s: %v", path, err)
	}
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(path), ".gz"))
	f, err := os.Create(out)
	must(t, err)
	defer f.Close()
	if _, err := io.Copy(f, zr); err != nil {
		t.Fatalf("gunzip %s: %v", path, err)
	}
	return out
}

// checkConfigDigest checks the new OS reported config's SHA-256 for the
// config.json on its boot partition.
func checkConfigDigest(t *testing.T, vm *vmtest.VM, config []byte) {
	t.Helper()
	sum := sha256.Sum256(config)
	want := "BALENAOS-CONFIG-JSON sha256=" + hex.EncodeToString(sum[:])
	for _, l := range vm.Output() {
		if strings.Contains(l, "BALENAOS-CONFIG-JSON sha256=") {
			if !strings.Contains(l, want) {
				t.Fatalf("new OS reported %q, want %q", l, want)
			}
			t.Logf("PASS new OS reports config.json digest %s", hex.EncodeToString(sum[:8]))
			return
		}
	}
	t.Fatalf("new OS printed no BALENAOS-CONFIG-JSON line")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// flipInCPIO flips one byte in the middle of the first file of the newc
// archive at path whose name starts with prefix, in place, and returns the
// file's name and the archive offset of the flipped byte.
func flipInCPIO(t *testing.T, path, prefix string) (string, int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	off := int64(0)
	for off+110 <= int64(len(b)) {
		hdr := b[off : off+110]
		if string(hdr[:6]) != "070701" && string(hdr[:6]) != "070702" {
			t.Fatalf("%s: no newc header at %d (compressed archive?)", path, off)
		}
		size := hexField(t, hdr, 54)
		nameSize := hexField(t, hdr, 94)
		name := strings.TrimRight(string(b[off+110:off+110+nameSize]), "\x00")
		data := align4(off + 110 + nameSize)
		if name == "TRAILER!!!" {
			break
		}
		if strings.HasPrefix(strings.TrimPrefix(name, "/"), prefix) && size > 0 {
			at := data + size/2
			b[at] ^= 0x01
			must(t, os.WriteFile(path, b, 0o600))
			return name, at
		}
		off = align4(data + size)
	}
	t.Fatalf("%s holds no file under %s", path, prefix)
	return "", 0
}

func hexField(t *testing.T, hdr []byte, at int) int64 {
	t.Helper()
	n, err := strconv.ParseInt(string(hdr[at:at+8]), 16, 64)
	if err != nil {
		t.Fatalf("newc header field at %d: %v", at, err)
	}
	return n
}

func align4(n int64) int64 { return (n + 3) &^ 3 }

// TestSyntheticImageLayout checks the host-side helpers read the synthetic
// image the way the scenarios need: boot and data partitions found by
// label on MBR (data is a logical partition there) and GPT, and the fake
// API starts on it. No VM.
func TestSyntheticImageLayout(t *testing.T) {
	for _, table := range []string{"mbr", "gpt"} {
		t.Run(table, func(t *testing.T) {
			im := syntheticImage(t, table, "layout")
			boot := im.partition(t, "resin-boot")
			data := im.partition(t, "resin-data")
			if im.Table.Kind != table || boot.Start != 1<<20 || data.Start <= boot.End() {
				t.Fatalf("table of the %s image = %+v", table, im.Table)
			}
			st, err := os.Stat(im.Raw)
			must(t, err)
			skip, err := vmtest.StageTwoExtents(im.Table, st.Size(), "resin-boot", "resin-data")
			must(t, err)
			f, err := os.Open(im.Raw)
			must(t, err)
			defer f.Close()
			if err := vmtest.CompareOutside(f, f, st.Size(), skip); err != nil {
				t.Fatalf("CompareOutside(image, itself) = %v", err)
			}
			api := startFakeAPI(t, filepath.Dir(im.Path), "")
			if api.addr == "" {
				t.Fatal("fake API has no address")
			}
		})
	}
}
