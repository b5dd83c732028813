package vmtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
)

// Extent is a byte range [Start, End) of a disk.
type Extent struct {
	Start, End int64
	Why        string // what owns the range, for messages
}

// CompareOutside compares the first size bytes of disk and image, except
// the ranges in skip, and returns an error naming the first differing
// offset.
func CompareOutside(disk, image io.ReaderAt, size int64, skip []Extent) error {
	skip = append([]Extent(nil), skip...)
	sort.Slice(skip, func(i, j int) bool { return skip[i].Start < skip[j].Start })
	const chunk = 1 << 20
	a, b := make([]byte, chunk), make([]byte, chunk)
	off := int64(0)
	for off < size {
		if e, ok := covering(skip, off); ok {
			off = e.End
			continue
		}
		n := min(int64(chunk), size-off)
		if e, ok := nextSkip(skip, off); ok && e.Start < off+n {
			n = e.Start - off
		}
		if err := readFull(disk, a[:n], off, "disk"); err != nil {
			return err
		}
		if err := readFull(image, b[:n], off, "image"); err != nil {
			return err
		}
		if i := firstDiff(a[:n], b[:n]); i >= 0 {
			return fmt.Errorf("disk differs from image at byte %d: %#02x, want %#02x",
				off+int64(i), a[i], b[i])
		}
		off += n
	}
	return nil
}

func covering(skip []Extent, off int64) (Extent, bool) {
	for _, e := range skip {
		if e.Start <= off && off < e.End {
			return e, true
		}
	}
	return Extent{}, false
}

func nextSkip(skip []Extent, off int64) (Extent, bool) {
	for _, e := range skip {
		if e.Start > off {
			return e, true
		}
	}
	return Extent{}, false
}

func readFull(r io.ReaderAt, p []byte, off int64, what string) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == io.EOF || err == nil {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading %s at offset %d: %w", what, off, err)
}

func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// StageTwoExtents are the parts of a flashed disk that stage2 may rewrite
// after flashing the image described by t, rawSize bytes long: the
// partitions labelled in writable (files written into them), and on GPT the
// header sectors that relocating the backup table rewrites (LBA 1, the
// protective MBR's entry, and the image's last 33 sectors, where its backup
// table was).
func StageTwoExtents(t Table, rawSize int64, writable ...string) ([]Extent, error) {
	var skip []Extent
	for _, label := range writable {
		p, ok := t.ByLabel(label)
		if !ok {
			return nil, fmt.Errorf("image has no partition labelled %q", label)
		}
		skip = append(skip, Extent{p.Start, p.End(), "partition " + label})
	}
	if t.Kind == "gpt" {
		skip = append(skip,
			Extent{446, 510, "protective MBR entries"},
			Extent{sectorSize, 2 * sectorSize, "primary GPT header"},
			Extent{rawSize - 33*sectorSize, rawSize, "image's backup GPT"})
	}
	return skip, nil
}

// FileSHA256 is the hex SHA-256 of a file's first n bytes (all when n < 0).
func FileSHA256(path string, n int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hashing: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if n >= 0 {
		r = io.LimitReader(f, n)
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
