package kexec

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
)

// ErrNoVersion says a kernel image holds no version string this package can
// read (for example a 32-bit ARM zImage compressed with xz or lzo).
var ErrNoVersion = errors.New("no readable version string in the kernel image")

// ErrShutdownStarted says Jump handed the machine to the init system's
// shutdown for kexec: the loaded image must stay loaded, the shutdown
// itself will jump into it.
var ErrShutdownStarted = errors.New("systemctl kexec was accepted")

// format is the container format of a kernel image file.
type format int

const (
	formatUnknown format = iota
	formatBzImage        // x86 bzImage: setup header names the version string
	formatGzip           // gzip stream, e.g. Ubuntu's arm64 vmlinuz
	formatZboot          // arm64 EFI zboot: PE stub around a compressed Image
	formatArm64          // plain arm64 Image, what arm64 kexec_file_load takes
	formatZImage         // 32-bit ARM zImage: decompressor around a payload
)

func (f format) String() string {
	return [...]string{"unknown", "bzImage", "gzip", "zboot", "arm64 Image", "zImage"}[f]
}

// Offsets and magics of the image headers, from the kernel's boot protocol
// (Documentation/arch/x86/boot.rst), arm64 booting.rst, the EFI zboot header
// (drivers/firmware/efi/libstub/zboot-header.S) and the ARM zImage header.
const (
	bzHeaderMagicOff  = 0x202 // "HdrS"
	bzVersionFieldOff = 0x20e // kernel_version: offset of the string - 0x200
	arm64MagicOff     = 0x38  // "ARM\x64"
	zImageMagicOff    = 0x24  // 0x016f2818, little endian
	zImageMagic       = 0x016f2818
	zbootPayloadOff   = 8  // u32: payload offset
	zbootPayloadSize  = 12 // u32: payload size
	zbootCompOff      = 24 // NUL-terminated compression name
	headerLen         = 0x240
)

// maxUnpacked bounds how much a compressed kernel may inflate to, while
// searching for its version and when unwrapping it to disk. Real images are
// under 100 MiB; the bound stops a corrupt or hostile file from filling the
// disk.
const maxUnpacked = 512 << 20

var banner = []byte("Linux version ")

// detect reads the head of an image and names its format.
func detect(head []byte) format {
	switch {
	case len(head) > bzHeaderMagicOff+4 &&
		string(head[bzHeaderMagicOff:bzHeaderMagicOff+4]) == "HdrS":
		return formatBzImage
	case len(head) > 2 && head[0] == 0x1f && head[1] == 0x8b:
		return formatGzip
	case len(head) > zbootCompOff && string(head[0:2]) == "MZ" && string(head[4:8]) == "zimg":
		return formatZboot
	case len(head) > arm64MagicOff+4 && string(head[arm64MagicOff:arm64MagicOff+4]) == "ARM\x64":
		return formatArm64
	case len(head) > zImageMagicOff+4 &&
		binary.LittleEndian.Uint32(head[zImageMagicOff:]) == zImageMagic:
		return formatZImage
	}
	return formatUnknown
}

// ReadVersion returns the release ("6.1.0-18-arm64") of the kernel image at
// path, read from its version string. It returns an error wrapping
// ErrNoVersion when the image holds none it can read.
func ReadVersion(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("opening kernel image: %w", err)
	}
	defer f.Close()
	release, err := readVersion(f)
	if err != nil {
		return "", fmt.Errorf("reading the version of %s: %w", path, err)
	}
	return release, nil
}

func readVersion(f io.ReaderAt) (string, error) {
	head := make([]byte, headerLen)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading header: %w", err)
	}
	head = head[:n]
	whole := io.NewSectionReader(f, 0, 1<<62)
	switch detect(head) {
	case formatBzImage:
		if v, ok := bzImageVersion(f, head); ok {
			return v, nil
		}
		return searchBanner(whole)
	case formatGzip:
		return searchGzip(whole)
	case formatZboot:
		r, closer, err := zbootPayload(f, head)
		if err != nil {
			return "", err
		}
		defer closer()
		return searchBanner(r)
	case formatZImage:
		return searchEmbeddedGzip(f)
	}
	// A plain Image (arm64, riscv) carries the banner uncompressed.
	return searchBanner(whole)
}

// bzImageVersion reads the string the setup header's kernel_version field
// points to: "6.1.0-18-amd64 (debian-kernel@lists.debian.org) #1 SMP ...".
func bzImageVersion(f io.ReaderAt, head []byte) (string, bool) {
	off := binary.LittleEndian.Uint16(head[bzVersionFieldOff:])
	if off == 0 {
		return "", false
	}
	buf := make([]byte, 256)
	n, _ := f.ReadAt(buf, int64(off)+0x200)
	buf = buf[:n]
	if i := bytes.IndexByte(buf, 0); i >= 0 {
		buf = buf[:i]
	}
	fields := bytes.Fields(buf)
	if len(fields) == 0 {
		return "", false
	}
	return string(fields[0]), true
}

// searchBanner scans a stream for "Linux version <release> " and returns
// the release. Format strings such as "Linux version %s" are skipped.
func searchBanner(r io.Reader) (string, error) {
	const chunk = 1 << 20
	const keep = 256 // bytes kept across chunks: the banner plus its release
	br := bufio.NewReaderSize(io.LimitReader(r, maxUnpacked), chunk)
	buf := make([]byte, 0, chunk+keep)
	for {
		n, err := io.ReadFull(br, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if v, ok := releaseAfterBanner(buf); ok {
			return v, nil
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return "", ErrNoVersion
		}
		if err != nil {
			return "", fmt.Errorf("reading image: %w", err)
		}
		if len(buf) > keep {
			buf = append(buf[:0], buf[len(buf)-keep:]...)
		}
	}
}

// releaseAfterBanner finds the first banner in buf followed by a complete,
// plausible release.
func releaseAfterBanner(buf []byte) (string, bool) {
	for rest := buf; ; {
		i := bytes.Index(rest, banner)
		if i < 0 {
			return "", false
		}
		tail := rest[i+len(banner):]
		if end := bytes.IndexAny(tail, " \x00\n"); end > 0 {
			v := string(tail[:end])
			if plausibleRelease(v) {
				return v, true
			}
		}
		rest = tail
	}
}

// plausibleRelease accepts "6.1.0-18-amd64" and refuses format verbs.
func plausibleRelease(v string) bool {
	if len(v) > 100 || v[0] < '0' || v[0] > '9' {
		return false
	}
	for _, c := range v {
		if c <= ' ' || c > '~' || c == '%' {
			return false
		}
	}
	return true
}

func searchGzip(r io.Reader) (string, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return "", fmt.Errorf("opening gzip stream: %w", err)
	}
	defer zr.Close()
	zr.Multistream(false)
	return searchBanner(zr)
}

// searchEmbeddedGzip looks for the banner inside the gzip payload of a
// 32-bit ARM zImage. Payloads compressed otherwise (xz, lzo, lz4) give
// ErrNoVersion.
func searchEmbeddedGzip(f io.ReaderAt) (string, error) {
	const scan = 64 << 10 // the payload starts within the decompressor's first KiBs
	head := make([]byte, scan)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading zImage: %w", err)
	}
	head = head[:n]
	magic := []byte{0x1f, 0x8b, 0x08}
	for off := 0; ; {
		i := bytes.Index(head[off:], magic)
		if i < 0 {
			return "", ErrNoVersion
		}
		off += i
		v, err := searchGzip(io.NewSectionReader(f, int64(off), 1<<62))
		if err == nil {
			return v, nil
		}
		off++
	}
}

// zbootPayload returns a reader of the decompressed Image inside an EFI
// zboot image.
func zbootPayload(f io.ReaderAt, head []byte) (io.Reader, func(), error) {
	off := binary.LittleEndian.Uint32(head[zbootPayloadOff:])
	size := binary.LittleEndian.Uint32(head[zbootPayloadSize:])
	comp := head[zbootCompOff:]
	if i := bytes.IndexByte(comp, 0); i >= 0 {
		comp = comp[:i]
	}
	payload := io.NewSectionReader(f, int64(off), int64(size))
	switch string(comp) {
	case "gzip":
		zr, err := gzip.NewReader(payload)
		if err != nil {
			return nil, nil, fmt.Errorf("opening zboot gzip payload: %w", err)
		}
		zr.Multistream(false)
		return zr, func() { zr.Close() }, nil
	case "zstd", "zstd22":
		zr, err := zstd.NewReader(payload, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, fmt.Errorf("opening zboot zstd payload: %w", err)
		}
		return zr, zr.Close, nil
	}
	return nil, nil, fmt.Errorf("zboot payload compressed with %q: only gzip and zstd are supported",
		comp)
}
