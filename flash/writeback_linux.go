package flash

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to begin writing [off, off+n) of f to the
// disk without waiting.
func startWriteback(f *os.File, off, n int64) error {
	if err := unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE); err != nil {
		return fmt.Errorf("starting writeback of %d bytes at byte %d: %w", n, off, err)
	}
	return nil
}

// awaitWriteback waits until [off, off+n) of f has been written out.
func awaitWriteback(f *os.File, off, n int64) error {
	flags := unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE |
		unix.SYNC_FILE_RANGE_WAIT_AFTER
	if err := unix.SyncFileRange(int(f.Fd()), off, n, flags); err != nil {
		return fmt.Errorf("waiting for writeback of %d bytes at byte %d: %w", n, off, err)
	}
	return nil
}

// StartWriteback begins writing a range of the disk out.
func (d *Device) StartWriteback(off, n int64) error { return startWriteback(d.f, off, n) }

// AwaitWriteback waits for a range of the disk to be written out.
func (d *Device) AwaitWriteback(off, n int64) error { return awaitWriteback(d.f, off, n) }

// StartWriteback begins writing a range of the file out.
func (d *File) StartWriteback(off, n int64) error { return startWriteback(d.f, off, n) }

// AwaitWriteback waits for a range of the file to be written out.
func (d *File) AwaitWriteback(off, n int64) error { return awaitWriteback(d.f, off, n) }
