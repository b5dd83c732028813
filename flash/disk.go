// Package flash writes an image to a disk and verifies it by reading it
// back: the first MiB is zeroed first and written last, the stream's length
// and SHA-256 are checked before the head goes down, the disk's cache is
// dropped before the read-back, failed attempts are retried and a disk
// that never verified is wiped so that no half image boots.
package flash

import (
	"fmt"
	"io"
	"os"
)

// Disk is what the pipeline writes to: a whole disk, or a file in tests.
type Disk interface {
	io.ReaderAt
	io.WriterAt
	Sync() error      // flush written data to stable storage
	DropCache() error // forget cached pages so reads come from the medium
	Size() int64      // bytes
	SectorSize() int  // logical sector size in bytes
}

// File is a Disk backed by a regular file, for tests and benchmarks.
type File struct {
	f          *os.File
	size       int64
	sectorSize int
}

// OpenFile opens an existing file as a Disk of its current size.
func OpenFile(path string, sectorSize int) (*File, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("opening disk file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("opening disk file: %w", err)
	}
	return &File{f: f, size: fi.Size(), sectorSize: sectorSize}, nil
}

// ReadAt reads from the file.
func (d *File) ReadAt(p []byte, off int64) (int, error) { return d.f.ReadAt(p, off) }

// WriteAt writes to the file, refusing to grow it past its size as a disk
// would.
func (d *File) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > d.size {
		return 0, fmt.Errorf("writing %d bytes at %d: past the end of %s (%d bytes)",
			len(p), off, d.f.Name(), d.size)
	}
	return d.f.WriteAt(p, off)
}

// Sync flushes the file.
func (d *File) Sync() error { return d.f.Sync() }

// DropCache evicts the file's cached pages.
func (d *File) DropCache() error { return dropPages(d.f) }

// Size returns the file size.
func (d *File) Size() int64 { return d.size }

// SectorSize returns the sector size given to OpenFile.
func (d *File) SectorSize() int { return d.sectorSize }

// Close closes the file.
func (d *File) Close() error { return d.f.Close() }
