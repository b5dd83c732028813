package kexec

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// fakeBzImage is a bzImage header whose kernel_version field points at a
// version string, as the x86 boot protocol lays it out.
func fakeBzImage(version string) []byte {
	img := make([]byte, 0x1000)
	copy(img[bzHeaderMagicOff:], "HdrS")
	if version == "" {
		return img // kernel_version 0: no version string
	}
	const at = 0x400
	binary.LittleEndian.PutUint16(img[bzVersionFieldOff:], at-0x200)
	copy(img[at:], version+"\x00")
	return img
}

// fakeArm64Image is an arm64 Image header with the banner deep inside, past
// the first chunk searchBanner reads, split across the chunk boundary.
func fakeArm64Image(release string) []byte {
	img := make([]byte, 3<<20)
	copy(img[arm64MagicOff:], "ARM\x64")
	copy(img[1<<20:], "printk: Linux version %s\x00")
	text := "Linux version " + release + " (builder@host) (gcc 12) #1 SMP PREEMPT\n"
	copy(img[(2<<20)-10:], text)
	return img
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstded(t testing.TB, b []byte) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return zw.EncodeAll(b, nil)
}

// fakeZboot wraps a compressed payload in an EFI zboot header; like the
// kernel's, the payload is followed by its 4-byte uncompressed size.
func fakeZboot(comp string, payload []byte) []byte {
	const off = 0x1000
	img := make([]byte, off, off+len(payload)+4)
	copy(img, "MZ\x00\x00zimg")
	binary.LittleEndian.PutUint32(img[zbootPayloadOff:], off)
	binary.LittleEndian.PutUint32(img[zbootPayloadSize:], uint32(len(payload)))
	copy(img[zbootCompOff:], comp+"\x00")
	img = append(img, payload...)
	return append(img, 1, 2, 3, 4)
}

// fakeZImage is a 32-bit ARM zImage: decompressor code, then a gzip payload.
func fakeZImage(t testing.TB, release string) []byte {
	img := make([]byte, 0x3000)
	binary.LittleEndian.PutUint32(img[zImageMagicOff:], zImageMagic)
	img[0x800], img[0x801], img[0x802] = 0x1f, 0x8b, 0x08 // a false start
	payload := make([]byte, 1<<16)
	copy(payload[100:], "Linux version "+release+" (b@h) #1 SMP\n")
	return append(img, gzipped(t, payload)...)
}

func writeFile(t testing.TB, path string, b []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadVersion(t *testing.T) {
	const rel = "6.1.0-18-arm64"
	tests := []struct {
		name    string
		image   []byte
		want    string
		wantErr error
	}{
		{name: "bzImage", image: fakeBzImage("6.1.0-57-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP"),
			want: "6.1.0-57-cloud-amd64"},
		{name: "arm64 Image", image: fakeArm64Image(rel), want: rel},
		{name: "gzip arm64", image: gzipped(t, fakeArm64Image(rel)), want: rel},
		{name: "zboot gzip", image: fakeZboot("gzip", gzipped(t, fakeArm64Image(rel))), want: rel},
		{name: "zboot zstd", image: fakeZboot("zstd22", zstded(t, fakeArm64Image(rel))), want: rel},
		{name: "zImage gzip", image: fakeZImage(t, "6.6.51+rpt-rpi-v7l"), want: "6.6.51+rpt-rpi-v7l"},
		{name: "bzImage without field falls back to a scan",
			image: append(fakeBzImage(""), "Linux version 5.10.0-28-amd64 (x)"...),
			want:  "5.10.0-28-amd64"},
		{name: "no banner", image: make([]byte, 5000), wantErr: ErrNoVersion},
		{name: "only a format string", image: []byte("xx Linux version %s (%s)\n"), wantErr: ErrNoVersion},
		{name: "zImage with xz payload", image: fakeZImage(t, rel)[:0x3000], wantErr: ErrNoVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(t.TempDir(), "vmlinuz"), tc.image)
			got, err := ReadVersion(path)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ReadVersion(%s) = %q, %v, want %v", tc.name, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ReadVersion(%s) = %q, %v, want %q", tc.name, got, err, tc.want)
			}
		})
	}
}

func TestReadVersionMissingFile(t *testing.T) {
	_, err := ReadVersion(filepath.Join(t.TempDir(), "none"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadVersion(missing) = %v, want ErrNotExist", err)
	}
}

func TestUnwrap(t *testing.T) {
	plain := fakeArm64Image("6.1.0-18-arm64")
	tests := []struct {
		name          string
		image         []byte
		wantUnwrapped bool
	}{
		{name: "gzip", image: gzipped(t, plain), wantUnwrapped: true},
		{name: "zboot gzip", image: fakeZboot("gzip", gzipped(t, plain)), wantUnwrapped: true},
		{name: "zboot zstd", image: fakeZboot("zstd22", zstded(t, plain)), wantUnwrapped: true},
		{name: "plain Image", image: plain},
		{name: "bzImage", image: fakeBzImage("6.1.0-57-cloud-amd64 (x) #1")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in := writeFile(t, filepath.Join(dir, "in", "vmlinuz"), tc.image)
			out, unwrapped, err := Unwrap(in, dir)
			if err != nil || unwrapped != tc.wantUnwrapped {
				t.Fatalf("Unwrap(%s) = %q, %v, %v, want unwrapped %v", tc.name, out, unwrapped, err,
					tc.wantUnwrapped)
			}
			if !unwrapped {
				if out != in {
					t.Fatalf("Unwrap(%s) = %q, want the input path %q", tc.name, out, in)
				}
				return
			}
			got, err := os.ReadFile(out)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("Unwrap(%s) wrote %d bytes (%v), want the %d-byte plain Image",
					tc.name, len(got), err, len(plain))
			}
			if filepath.Dir(out) != dir {
				t.Fatalf("Unwrap(%s) wrote %s, want a file in %s", tc.name, out, dir)
			}
		})
	}
}

func TestUnwrapCorruptLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	image := gzipped(t, fakeArm64Image("6.1.0-18-arm64"))
	in := writeFile(t, filepath.Join(dir, "in", "vmlinuz"), image[:len(image)/2])
	if out, _, err := Unwrap(in, dir); err == nil {
		t.Fatalf("Unwrap(truncated gzip) = %q, nil, want an error", out)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "takeover-kernel-*")); len(left) != 0 {
		t.Fatalf("Unwrap(truncated gzip) left %v behind", left)
	}
}

func FuzzReadVersion(f *testing.F) {
	f.Add(fakeBzImage("6.1.0 (x)"))
	f.Add([]byte("Linux version 6.1.0-18-arm64 (x)"))
	f.Add(fakeZboot("gzip", []byte{0x1f, 0x8b, 8, 0}))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := readVersion(bytes.NewReader(b))
		if err == nil && !plausibleRelease(v) {
			t.Fatalf("readVersion = %q, an implausible release", v)
		}
	})
}

// TestReadVersionRealKernel reads Debian's cloud bzImage, whose file name
// carries its release.
func TestReadVersionRealKernel(t *testing.T) {
	kernel := cachedKernel(t)
	want := strings.TrimPrefix(filepath.Base(kernel), "vmlinuz-")
	if got, err := ReadVersion(kernel); err != nil || got != want {
		t.Fatalf("ReadVersion(%s) = %q, %v, want %q", kernel, got, err, want)
	}
}
