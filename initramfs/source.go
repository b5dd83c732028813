package initramfs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// source is what the archive parser reads from: a region of the initrd
// file, or a decompressed stream. pos counts bytes in the source's own
// coordinates (file offsets, or offsets in the decompressed stream).
type source interface {
	io.Reader
	skip(n int64) error  // discard n bytes; io.ErrUnexpectedEOF if fewer remain
	peek() (byte, error) // the next byte, not consumed; io.EOF at the end
	pos() int64          // offset of the next byte
}

// fileSource reads an uncompressed region of the file with ReadAt, so that
// skipping a large body costs nothing.
type fileSource struct {
	ra       io.ReaderAt
	off, end int64
}

func (s *fileSource) Read(p []byte) (int, error) {
	if s.off >= s.end {
		return 0, io.EOF
	}
	if rest := s.end - s.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := s.ra.ReadAt(p, s.off)
	s.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (s *fileSource) skip(n int64) error {
	if n > s.end-s.off {
		s.off = s.end
		return io.ErrUnexpectedEOF
	}
	s.off += n
	return nil
}

func (s *fileSource) peek() (byte, error) {
	if s.off >= s.end {
		return 0, io.EOF
	}
	var b [1]byte
	if _, err := s.ra.ReadAt(b[:], s.off); err != nil {
		return 0, err
	}
	return b[0], nil
}

func (s *fileSource) pos() int64 { return s.off }

// streamSource reads a decompressed stream.
type streamSource struct {
	br *bufio.Reader
	n  int64
}

func newStreamSource(r io.Reader) *streamSource {
	return &streamSource{br: bufio.NewReaderSize(r, 64<<10)}
}

func (s *streamSource) Read(p []byte) (int, error) {
	n, err := s.br.Read(p)
	s.n += int64(n)
	return n, err
}

func (s *streamSource) skip(n int64) error {
	for n > 0 {
		chunk := min(n, 1<<30)
		d, err := s.br.Discard(int(chunk))
		s.n += int64(d)
		n -= int64(d)
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *streamSource) peek() (byte, error) {
	b, err := s.br.Peek(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (s *streamSource) pos() int64 { return s.n }

// byteReaderAt reads a region of the file through a buffer and implements
// io.ByteReader, so a decompressor reads exactly the compressed bytes and
// consumed() tells where the compressed data ended.
type byteReaderAt struct {
	ra        io.ReaderAt
	next, end int64 // file offset of the next buffer fill, and of the end
	buf       []byte
	i         int // next unread byte of buf
}

func newByteReaderAt(ra io.ReaderAt, off, end int64) *byteReaderAt {
	return &byteReaderAt{ra: ra, next: off, end: end}
}

func (b *byteReaderAt) fill() error {
	if b.next >= b.end {
		return io.EOF
	}
	if b.buf == nil {
		b.buf = make([]byte, 64<<10)
	}
	n := min(int64(cap(b.buf)), b.end-b.next)
	m, err := b.ra.ReadAt(b.buf[:n], b.next)
	if m == 0 {
		if err == nil || err == io.EOF {
			err = fmt.Errorf("reading at offset %d: %w", b.next, io.ErrUnexpectedEOF)
		}
		return err
	}
	b.buf, b.i = b.buf[:m], 0
	b.next += int64(m)
	return nil
}

func (b *byteReaderAt) Read(p []byte) (int, error) {
	if b.i >= len(b.buf) {
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.buf[b.i:])
	b.i += n
	return n, nil
}

func (b *byteReaderAt) ReadByte() (byte, error) {
	if b.i >= len(b.buf) {
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	c := b.buf[b.i]
	b.i++
	return c, nil
}

// consumed is the file offset of the first byte not yet handed out.
func (b *byteReaderAt) consumed() int64 { return b.next - int64(len(b.buf)-b.i) }
