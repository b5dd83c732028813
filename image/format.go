// Package image recognises, decompresses and validates balenaOS images
// before anything destructive happens: one decompression pass records the
// compressed and raw sizes and SHA-256 digests and reads the partition
// table and file system labels from the stream as it passes.
package image

import (
	"archive/zip"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Format is how an image file is compressed. Its string is what
// plan.Image.Compression holds.
type Format string

// The formats Detect knows.
const (
	Raw  Format = "none"
	Gzip Format = "gzip"
	Zip  Format = "zip"
	XZ   Format = "xz"
	Zstd Format = "zstd"
)

// HeaderSize is enough of a file's start for Detect.
const HeaderSize = 8

var magics = []struct {
	magic []byte
	f     Format
}{
	{[]byte{0x1f, 0x8b}, Gzip},
	{[]byte("PK\x03\x04"), Zip},
	{[]byte("PK\x05\x06"), Zip}, // an empty archive
	{[]byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, XZ},
	{[]byte{0x28, 0xb5, 0x2f, 0xfd}, Zstd},
}

// Detect tells the format from a file's first bytes; anything it does not
// recognise is Raw.
func Detect(header []byte) Format {
	for _, m := range magics {
		if bytes.HasPrefix(header, m.magic) {
			return m.f
		}
	}
	return Raw
}

// DetectFile reads the start of the file at path and detects its format.
func DetectFile(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("opening image: %w", err)
	}
	defer f.Close()
	header := make([]byte, HeaderSize)
	n, err := io.ReadFull(f, header)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading image header: %w", err)
	}
	return Detect(header[:n]), nil
}

// OpenRaw opens the image file at path, compressed as f, and returns its
// decompressed contents. A truncated or corrupt file fails on Read, never
// with a plain io.EOF.
func OpenRaw(path string, f Format) (io.ReadCloser, error) {
	if f == Zip {
		return openZip(path)
	}
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening image: %w", err)
	}
	rc, err := decompressor(file, f)
	if err != nil {
		file.Close()
		return nil, err
	}
	return &closers{Reader: rc, close: []func() error{rc.Close, file.Close}}, nil
}

// decompressor wraps r in the decoder for f. f must not be Zip.
func decompressor(r io.Reader, f Format) (io.ReadCloser, error) {
	switch f {
	case Raw:
		return io.NopCloser(r), nil
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("reading gzip header: %w", err)
		}
		return zr, nil
	case Zstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("starting zstd decoder: %w", err)
		}
		return zr.IOReadCloser(), nil
	case XZ:
		zr, err := xz.NewReader(bufio.NewReaderSize(r, 1<<16))
		if err != nil {
			return nil, fmt.Errorf("reading xz header: %w", err)
		}
		return io.NopCloser(zr), nil
	}
	return nil, fmt.Errorf("decompressing %s: not a stream format", f)
}

// openZip opens the one file of a zip archive.
func openZip(path string) (io.ReadCloser, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("opening zip archive: %w", err)
	}
	zr.RegisterDecompressor(zip.Deflate, flate.NewReader)
	entry, err := onlyFile(&zr.Reader)
	if err != nil {
		zr.Close()
		return nil, err
	}
	rc, err := entry.Open()
	if err != nil {
		zr.Close()
		return nil, fmt.Errorf("opening %s in zip archive: %w", entry.Name, err)
	}
	return &closers{Reader: rc, close: []func() error{rc.Close, zr.Close}}, nil
}

// onlyFile returns the single regular file of a zip archive; directories
// are ignored.
func onlyFile(zr *zip.Reader) (*zip.File, error) {
	var files []*zip.File
	for _, f := range zr.File {
		if !f.FileInfo().IsDir() {
			files = append(files, f)
		}
	}
	if len(files) != 1 {
		return nil, fmt.Errorf("zip archive holds %d files, want exactly one image: "+
			"unpack it and pass the .img file", len(files))
	}
	return files[0], nil
}

// closers is a reader whose Close closes several things in order.
type closers struct {
	io.Reader
	close []func() error
}

func (c *closers) Close() error {
	var errs []error
	for _, f := range c.close {
		errs = append(errs, f())
	}
	return errors.Join(errs...)
}
