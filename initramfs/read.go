package initramfs

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Compression kinds of a segment.
const (
	CompressionNone = "none"
	CompressionGzip = "gzip"
	CompressionZstd = "zstd"
)

// Segment is one part of an initrd file: an uncompressed newc archive, or a
// compressed stream holding one or more archives.
type Segment struct {
	Offset      int64  // where it starts in the file
	Size        int64  // bytes it takes in the file, padding after it excluded
	Compression string // CompressionNone, CompressionGzip or CompressionZstd
}

// Member is one entry of an archive as read back.
type Member struct {
	Segment int    // index in Listing.Segments
	Name    string // absolute path, e.g. /takeover/payload.json
	Mode    os.FileMode
	Size    int64
	UID     uint32
	GID     uint32
	Rmajor  uint32
	Rminor  uint32
	// Offset of the body: in the file for an uncompressed segment, in the
	// decompressed stream otherwise.
	Offset int64
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// visitFunc sees each member with a reader of its body. It may read part of
// the body or none of it.
type visitFunc func(m Member, body io.Reader) error

// walk reads an initrd file as the kernel does: archive after archive,
// skipping zero padding between them, decompressing compressed segments.
func walk(ra io.ReaderAt, size int64, visit visitFunc) ([]Segment, error) {
	var segs []Segment
	var off int64
	for {
		var err error
		off, err = skipZeros(ra, off, size)
		if err != nil {
			return segs, err
		}
		if off >= size {
			return segs, nil
		}

		seg := Segment{Offset: off}
		index := len(segs)
		see := func(m Member, body io.Reader) error {
			m.Segment = index
			return visit(m, body)
		}
		end, err := readSegment(ra, size, &seg, see)
		segs = append(segs, seg)
		if err != nil {
			return segs, fmt.Errorf("reading segment at offset %d: %w", off, err)
		}
		if end < 0 { // a stream whose end cannot be found: stop here
			return segs, nil
		}
		off = end
	}
}

// readSegment reads the segment at seg.Offset, fills in its kind and size
// and returns the file offset after it (-1 when unknown).
func readSegment(ra io.ReaderAt, size int64, seg *Segment, visit visitFunc) (int64, error) {
	off := seg.Offset
	head := make([]byte, 6)
	n, _ := ra.ReadAt(head, off)
	head = head[:n]

	switch {
	case bytes.HasPrefix(head, []byte(newcMagic[:1])):
		seg.Compression = CompressionNone
		if off%4 != 0 {
			return -1, fmt.Errorf("archive starts at offset %d, not 4-byte aligned", off)
		}
		src := &fileSource{ra: ra, off: off, end: size}
		err := readArchive(src, visit)
		seg.Size = src.off - off
		return src.off, err
	case bytes.HasPrefix(head, gzipMagic):
		seg.Compression = CompressionGzip
		br := newByteReaderAt(ra, off, size)
		err := readGzip(br, visit)
		seg.Size = br.consumed() - off
		return br.consumed(), err
	case bytes.HasPrefix(head, zstdMagic):
		// TODO: the end of a zstd stream is not located (the decoder reads
		// ahead), so nothing after a zstd segment is listed; takeover itself
		// writes uncompressed archives only.
		seg.Compression = CompressionZstd
		seg.Size = size - off
		return -1, readZstd(io.NewSectionReader(ra, off, size-off), visit)
	}
	return -1, fmt.Errorf("unknown data % x: not a newc archive, gzip or zstd", head)
}

func readGzip(br *byteReaderAt, visit visitFunc) error {
	zr, err := gzip.NewReader(br)
	if err != nil {
		return fmt.Errorf("opening gzip stream: %w", err)
	}
	zr.Multistream(false)
	if err := readStream(newStreamSource(zr), visit); err != nil {
		return err
	}
	// Reading to the end checks the gzip footer and finds the stream's end.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return fmt.Errorf("reading gzip stream: %w", err)
	}
	return nil
}

func readZstd(r io.Reader, visit visitFunc) error {
	zr, err := zstdReader(r)
	if err != nil {
		return err
	}
	return readStream(newStreamSource(zr), visit)
}

// zstdReader decodes in the calling goroutine (concurrency 1), so an
// abandoned reader leaves nothing running.
func zstdReader(r io.Reader) (io.Reader, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, fmt.Errorf("opening zstd stream: %w", err)
	}
	return zr.IOReadCloser(), nil
}

// readStream reads the archives of a decompressed stream to its end.
func readStream(src *streamSource, visit visitFunc) error {
	for {
		c, err := src.peek()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading decompressed stream: %w", err)
		}
		if c == 0 {
			if err := src.skip(1); err != nil {
				return err
			}
			continue
		}
		if src.pos()%4 != 0 {
			return fmt.Errorf("junk at offset %d of the decompressed stream", src.pos())
		}
		if err := readArchive(src, visit); err != nil {
			return err
		}
	}
}

// readArchive reads one archive up to and including its trailer.
func readArchive(src source, visit visitFunc) error {
	for {
		start := src.pos()
		h, name, err := readHeader(src)
		if err != nil {
			return fmt.Errorf("reading header at offset %d: %w", start, err)
		}
		size := int64(h.FileSize)
		if name == trailerName {
			return src.skip(pad4(size))
		}

		m := memberFrom(h, name, src.pos())
		if err := visit(m, io.LimitReader(src, size)); err != nil {
			return err
		}
		if err := src.skip(m.Offset + pad4(size) - src.pos()); err != nil {
			return fmt.Errorf("reading body of %s: %w", m.Name, err)
		}
	}
}

// readHeader reads a header and the name after it, with its padding.
func readHeader(src source) (header, string, error) {
	buf := make([]byte, headerLen)
	if _, err := io.ReadFull(src, buf); err != nil {
		return header{}, "", noEOF(err)
	}
	h, err := decodeHeader(buf)
	if err != nil {
		return header{}, "", err
	}
	if h.NameSize == 0 || h.NameSize > maxNameLen+1 {
		return header{}, "", fmt.Errorf("name size %d out of range", h.NameSize)
	}

	name := make([]byte, pad4(headerLen+int(h.NameSize))-headerLen)
	if _, err := io.ReadFull(src, name); err != nil {
		return header{}, "", noEOF(err)
	}
	if name[h.NameSize-1] != 0 {
		return header{}, "", errors.New("name is not NUL-terminated")
	}
	return h, string(name[:h.NameSize-1]), nil
}

// noEOF turns an early end of data into io.ErrUnexpectedEOF: an archive
// that stops before its trailer is truncated, not complete.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func memberFrom(h header, name string, offset int64) Member {
	return Member{Name: absName(name), Mode: fileMode(h.Mode), Size: int64(h.FileSize),
		UID: h.UID, GID: h.GID, Rmajor: h.Rmajor, Rminor: h.Rminor, Offset: offset}
}

// absName turns a stored name ("init", "./init", "/init") into "/init".
func absName(name string) string {
	return path.Clean("/" + strings.TrimPrefix(name, "./"))
}

// skipZeros returns the offset of the first non-zero byte at or after off.
func skipZeros(ra io.ReaderAt, off, size int64) (int64, error) {
	buf := make([]byte, 4096)
	for off < size {
		n, err := ra.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		for i, c := range buf[:n] {
			if c != 0 {
				return off + int64(i), nil
			}
		}
		off += int64(n)
		if err != nil && err != io.EOF {
			return off, fmt.Errorf("reading at offset %d: %w", off, err)
		}
		if n == 0 {
			return off, fmt.Errorf("reading at offset %d: %w", off, io.ErrUnexpectedEOF)
		}
	}
	return off, nil
}
