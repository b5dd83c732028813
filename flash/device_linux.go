package flash

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Device is a whole disk opened exclusively: the kernel refuses the open
// while a partition of it is mounted, used as swap or held by dm or md.
type Device struct {
	f          *os.File
	size       int64
	sectorSize int
}

// Open opens the block device at path for writing, exclusively.
func Open(path string) (*Device, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s exclusively: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	var size uint64
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKGETSIZE64,
		uintptr(unsafe.Pointer(&size))); errno != 0 {
		f.Close()
		return nil, fmt.Errorf("reading the size of %s (BLKGETSIZE64): %w", path, errno)
	}
	ss, err := unix.IoctlGetInt(int(f.Fd()), unix.BLKSSZGET)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading the sector size of %s (BLKSSZGET): %w", path, err)
	}
	return &Device{f: f, size: int64(size), sectorSize: ss}, nil
}

// ReadAt reads from the disk.
func (d *Device) ReadAt(p []byte, off int64) (int, error) { return d.f.ReadAt(p, off) }

// WriteAt writes to the disk.
func (d *Device) WriteAt(p []byte, off int64) (int, error) { return d.f.WriteAt(p, off) }

// Sync flushes the disk's written pages and its write cache.
func (d *Device) Sync() error {
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", d.f.Name(), err)
	}
	return nil
}

// DropCache flushes and invalidates the block device's buffer cache
// (BLKFLSBUF) and advises the kernel to drop its pages, so that a read-back
// comes from the disk and not from memory.
func (d *Device) DropCache() error {
	if err := unix.IoctlSetInt(int(d.f.Fd()), unix.BLKFLSBUF, 0); err != nil {
		return fmt.Errorf("flushing the buffer cache of %s (BLKFLSBUF): %w", d.f.Name(), err)
	}
	return dropPages(d.f)
}

// Size returns the disk's size in bytes.
func (d *Device) Size() int64 { return d.size }

// SectorSize returns the disk's logical sector size.
func (d *Device) SectorSize() int { return d.sectorSize }

// Name returns the device path.
func (d *Device) Name() string { return d.f.Name() }

// Close closes the device.
func (d *Device) Close() error { return d.f.Close() }

func dropPages(f *os.File) error {
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("dropping cached pages of %s: %w", f.Name(), err)
	}
	return nil
}

// rereadTries and rereadWait bound how long RereadPartitions waits for
// the kernel to let go of the disk (udev or a probe may hold it briefly).
const (
	rereadTries = 10
	rereadWait  = 500 * time.Millisecond
)

// RereadPartitions asks the kernel to read the partition table of the disk
// at path again (BLKRRPART), retrying while it answers EBUSY. Call it after
// closing the exclusive Device: the kernel refuses a re-read while the disk
// is held.
func RereadPartitions(ctx context.Context, path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("re-reading the partition table of %s: %w", path, err)
	}
	defer f.Close()
	for try := 1; ; try++ {
		err = unix.IoctlSetInt(int(f.Fd()), unix.BLKRRPART, 0)
		if err == nil || !errors.Is(err, unix.EBUSY) || try == rereadTries {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("re-reading the partition table of %s: %w", path, ctx.Err())
		case <-time.After(rereadWait):
		}
	}
	if err != nil {
		return fmt.Errorf("re-reading the partition table of %s (BLKRRPART): %w", path, err)
	}
	return nil
}
