package kmod

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// LoadAll stops at the first module that fails and names it; the errno
// stays reachable. No module is loaded: the first path does not exist.
func TestLoadAllNamesFailingModule(t *testing.T) {
	dir := t.TempDir()
	err := LoadAll(dir, []string{"kernel/drivers/virtio/virtio_ring.ko"}, nil)
	if err == nil || !strings.Contains(err.Error(), "virtio_ring.ko") {
		t.Fatalf("LoadAll() error = %v, want one naming virtio_ring.ko", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadAll() error = %v, want errors.Is(err, fs.ErrNotExist)", err)
	}
}

func TestReadModuleDecompresses(t *testing.T) {
	want := []byte("\x7fELF fake module contents")
	var gz, xzb, zst bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(want)
	gw.Close()
	xw, _ := xz.NewWriter(&xzb)
	xw.Write(want)
	xw.Close()
	zw, _ := zstd.NewWriter(&zst)
	zw.Write(want)
	zw.Close()

	tests := []struct {
		name string
		data []byte
	}{
		{name: "m.ko.gz", data: gz.Bytes()},
		{name: "m.ko.xz", data: xzb.Bytes()},
		{name: "m.ko.zst", data: zst.Bytes()},
	}
	for _, tt := range tests {
		p := filepath.Join(t.TempDir(), tt.name)
		if err := os.WriteFile(p, tt.data, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readModule(f)
		f.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("readModule(%s) = %q, %v, want %q", tt.name, got, err, want)
		}
	}
}
