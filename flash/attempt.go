package flash

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/takeover-dev/takeover/disk"
	"github.com/takeover-dev/takeover/exitcode"
)

// errOpen and errPanic end a run without retrying: the stream could not be
// opened, or a goroutine of the pipeline panicked (a bug).
var (
	errOpen  = errors.New("opening image stream")
	errPanic = errors.New("panic in the flash pipeline")
)

// attempt is one pass: zero the head, stream the rest, check the stream,
// write the head, sync, drop the cache, read back.
type attempt struct {
	o       Options
	ctx     context.Context
	written *bool  // set once the disk was changed
	head    []byte // the image's first HeadSize bytes, written last
	readSHA string
}

func (a *attempt) run() error {
	rc, err := a.open()
	if err != nil {
		return err
	}
	defer rc.Close()

	if err := a.zeroHead(); err != nil {
		return exitcode.With(exitcode.Flash, err)
	}

	if err := a.stream(rc); err != nil {
		return err
	}

	if err := a.finish(); err != nil {
		return exitcode.With(exitcode.Flash, err)
	}

	return a.verify()
}

func (a *attempt) open() (io.ReadCloser, error) {
	rc, err := a.o.Open()
	if err != nil {
		return nil, exitcode.With(exitcode.Flash, fmt.Errorf("%w: %w", errOpen, err))
	}
	return rc, nil
}

func (a *attempt) headLen() int64 { return min(HeadSize, a.o.RawSize) }

// zeroHead clears the first MiB and the backup GPT at the disk's end
// before any image byte is written: a disk cut off mid-write then holds no
// partition table, neither the old OS's nor half of the new one.
func (a *attempt) zeroHead() error {
	*a.written = true
	if err := disk.Wipe(a.o.Disk, a.o.Disk.Size(), a.o.Disk.SectorSize()); err != nil {
		return fmt.Errorf("clearing the partition tables before writing: %w", err)
	}
	return nil
}

// finish writes the head last, then syncs and drops the disk's cache.
func (a *attempt) finish() error {
	if _, err := a.o.Disk.WriteAt(a.head, 0); err != nil {
		return fmt.Errorf("writing the first %d bytes: %w", len(a.head), err)
	}
	if err := a.o.Disk.Sync(); err != nil {
		return fmt.Errorf("syncing: %w", err)
	}
	if err := a.o.Disk.DropCache(); err != nil {
		return fmt.Errorf("dropping the disk cache before verifying: %w", err)
	}
	return nil
}

// guard turns a panic in a pipeline goroutine (a decompressor bug, say)
// into an error: PID 1 cannot recover a panic in a goroutine it did not run.
func guard(f func() error) func() error {
	return func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = exitcode.With(exitcode.Flash, fmt.Errorf("%w: %v", errPanic, p))
			}
		}()
		return f()
	}
}
