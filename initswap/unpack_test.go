package initswap

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/takeover-dev/takeover/initramfs"
)

// combined writes archives one after the other, padded to 512 bytes, as
// boot does, and returns the file.
func combined(t *testing.T, archives ...[]initramfs.Entry) string {
	t.Helper()
	var buf bytes.Buffer
	for _, entries := range archives {
		if err := initramfs.WriteArchive(&buf, entries); err != nil {
			t.Fatal(err)
		}
		if pad := (512 - buf.Len()%512) % 512; pad > 0 {
			buf.Write(make([]byte, pad))
		}
	}
	p := filepath.Join(t.TempDir(), "combined.cpio")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUnpack(t *testing.T) {
	src := filepath.Join(t.TempDir(), "image.gz")
	image := bytes.Repeat([]byte("balena"), 50000)
	if err := os.WriteFile(src, image, 0o644); err != nil {
		t.Fatal(err)
	}
	payload := []initramfs.Entry{
		{Path: "/init", Data: []byte("\x7fELF fake init"), Mode: 0o755},
		{Path: "/takeover/image/image.gz", Source: src, Mode: 0o644},
		{Path: "/takeover/config.json", Data: []byte(`{"apiKey":"old"}`), Mode: 0o600},
		{Path: "/dev/console", Mode: os.ModeDevice | os.ModeCharDevice | 0o600,
			Rmajor: 5, Rminor: 1},
		{Path: "/tmp", Mode: os.ModeDir | os.ModeSticky | 0o777},
	}
	device := []initramfs.Entry{
		{Path: "/takeover/modules/kernel/virtio_blk.ko", Data: []byte("module"), Mode: 0o644},
		{Path: "/takeover/config.json", Data: []byte(`{"apiKey":"new!"}`), Mode: 0o600},
	}
	l, err := openListing(combined(t, payload, device))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	wantSize := int64(len("\x7fELF fake init") + len(image) + len(`{"apiKey":"new!"}`) +
		len("module"))
	if l.unpacked != wantSize {
		t.Errorf("unpacked size = %d, want %d (the later config.json counted once)",
			l.unpacked, wantSize)
	}

	dir := t.TempDir()
	var nodes []string
	mknod := func(path string, perm os.FileMode, major, minor uint32) error {
		nodes = append(nodes, fmt.Sprintf("%s %v %d:%d", strings.TrimPrefix(path, dir), perm,
			major, minor))
		return nil
	}
	if err := l.unpack(dir, mknod); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{path: "/init", data: []byte("\x7fELF fake init"), mode: 0o755},
		{path: "/takeover/image/image.gz", data: image, mode: 0o644},
		{path: "/takeover/config.json", data: []byte(`{"apiKey":"new!"}`), mode: 0o600},
		{path: "/takeover/modules/kernel/virtio_blk.ko", data: []byte("module"), mode: 0o644},
	} {
		p := filepath.Join(dir, tc.path)
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, tc.data) {
			t.Errorf("unpacked %s = %d bytes, %v, want %d bytes", tc.path, len(got), err,
				len(tc.data))
			continue
		}
		if st, _ := os.Stat(p); st.Mode() != tc.mode {
			t.Errorf("mode of unpacked %s = %v, want %v", tc.path, st.Mode(), tc.mode)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "tmp")); err != nil ||
		st.Mode() != os.ModeDir|os.ModeSticky|0o777 {
		t.Errorf("unpacked /tmp = %v, %v, want a sticky 0777 directory", st.Mode(), err)
	}
	if want := []string{"/dev/console -rw------- 5:1"}; fmt.Sprint(nodes) != fmt.Sprint(want) {
		t.Errorf("device nodes made = %q, want %q", nodes, want)
	}
}

func TestOpenListingRefuses(t *testing.T) {
	noInit := combined(t, []initramfs.Entry{{Path: "/takeover/x", Data: []byte("x"), Mode: 0o644}})
	garbage := filepath.Join(t.TempDir(), "garbage")
	if err := os.WriteFile(garbage, []byte("this is not a cpio archive"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{name: "no /init", path: noInit, want: "no /init"},
		{name: "not an archive", path: garbage, want: "unknown data"},
		{name: "missing", path: filepath.Join(t.TempDir(), "none"), want: "no such file"},
	} {
		l, err := openListing(tc.path)
		if err == nil {
			l.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: openListing() = %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}
