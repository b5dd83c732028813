package flash

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/takeover-dev/takeover/disk"
	"github.com/takeover-dev/takeover/exitcode"
)

// HeadSize is the part of the disk zeroed first and written last: the
// partition table and the first bootloader stages live there, so a disk
// cut off mid-write has no table and cannot boot a half image.
const HeadSize = 1 << 20

// Defaults for Options.
const (
	DefaultChunkSize = 4 << 20  // fits SD and eMMC erase blocks
	DefaultSyncEvery = 64 << 20 // bounds dirty page cache on small devices
)

// Errors callers can test with errors.Is.
var (
	// ErrPayloadCorrupt means the image stream was not RawSize bytes with
	// digest RawSHA256. Retrying cannot help.
	ErrPayloadCorrupt = errors.New("image stream does not match the plan")
	// ErrVerifyMismatch means the disk read back differs from the image.
	ErrVerifyMismatch = errors.New("disk content differs from the image")
	// ErrTooLarge means the image does not fit the disk.
	ErrTooLarge = errors.New("image larger than the disk")
)

// Options configure Run.
type Options struct {
	Open      func() (io.ReadCloser, error) // a fresh decompressed image stream per attempt
	RawSize   int64                         // bytes the stream must yield
	RawSHA256 string                        // hex SHA-256 the stream must have
	Disk      Disk
	Retries   int   // further attempts after a write or verify failure
	ChunkSize int   // bytes per write, a multiple of HeadSize; 0 for DefaultChunkSize
	SyncEvery int64 // sync after this many bytes; 0 for DefaultSyncEvery
	Log       logrus.FieldLogger
	TTY       io.Writer     // progress redraws one line here if set
	Interval  time.Duration // progress interval; 0 for one second
}

// Result says what Run did, also when it failed.
type Result struct {
	Bytes    int64  // image bytes written and verified
	SHA256   string // digest read back from the disk
	Attempts int
	Written  bool // some byte of the disk was changed
	Wiped    bool // the partition table was wiped after failures
	Duration time.Duration
}

// Run flashes the image to the disk and verifies it, retrying up to
// o.Retries times. If no attempt verifies and the disk was written, it
// wipes the partition table and returns an error tagged exitcode.Flash or
// exitcode.Verify. A failure before the first write leaves the disk as it
// was (Result.Written false).
func Run(ctx context.Context, o Options) (Result, error) {
	o = o.withDefaults()
	if err := o.check(); err != nil {
		return Result{}, exitcode.With(exitcode.Flash, fmt.Errorf("flashing image: %w", err))
	}
	start := time.Now()
	var res Result
	var err error
	for res.Attempts < 1+o.Retries {
		res.Attempts++
		a := &attempt{o: o, ctx: ctx, written: &res.Written}
		if err = a.run(); err == nil {
			res.Bytes, res.SHA256, res.Duration = o.RawSize, a.readSHA, time.Since(start)
			o.relocateGPT()
			return res, nil
		}
		if !retryable(ctx, err) || res.Attempts == 1+o.Retries {
			break
		}
		o.Log.WithError(err).WithField("attempt", res.Attempts).
			Warn("flash attempt failed, retrying")
	}
	res.Duration = time.Since(start)
	if res.Written {
		res.Wiped = true
		if werr := o.wipe(); werr != nil {
			res.Wiped = false
			// Keep the attempt's exit code: a joined error hides it from exitcode.Of.
			err = exitcode.With(exitcode.Of(err), fmt.Errorf("%w; and %w", err, werr))
		}
	}
	return res, fmt.Errorf("flashing image (%d attempts): %w", res.Attempts, err)
}

func (o Options) withDefaults() Options {
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.SyncEvery <= 0 {
		o.SyncEvery = DefaultSyncEvery
	}
	if o.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		o.Log = l
	}
	return o
}

func (o Options) check() error {
	switch {
	case o.Open == nil || o.Disk == nil:
		return errors.New("no image stream or no disk given")
	case o.RawSize <= 0 || len(o.RawSHA256) != 64:
		return fmt.Errorf("no image size and digest given (size %d, digest %q)",
			o.RawSize, o.RawSHA256)
	case o.ChunkSize%HeadSize != 0:
		return fmt.Errorf("chunk size %d is not a multiple of %d", o.ChunkSize, HeadSize)
	case o.RawSize > o.Disk.Size():
		return fmt.Errorf("%w: image %d bytes, disk %d bytes", ErrTooLarge, o.RawSize,
			o.Disk.Size())
	}
	return nil
}

// retryable says whether another attempt may succeed: a write, sync or
// read-back failure may be transient; a corrupt payload or a cancelled run
// is not.
func retryable(ctx context.Context, err error) bool {
	return ctx.Err() == nil && !errors.Is(err, ErrPayloadCorrupt) && !errors.Is(err, errOpen) &&
		!errors.Is(err, errPanic)
}

// wipe zeroes the partition tables so that no half image boots.
func (o Options) wipe() error {
	o.Log.Warn("wiping the partition table after failed attempts")
	if err := disk.Wipe(o.Disk, o.Disk.Size(), o.Disk.SectorSize()); err != nil {
		return fmt.Errorf("wiping partition table: %w", err)
	}
	if err := o.Disk.Sync(); err != nil {
		return fmt.Errorf("wiping partition table: %w", err)
	}
	return nil
}

// relocateGPT moves a GPT image's backup table to the end of a larger disk.
// A failure is only logged: the image verified, and balenaOS repairs the
// backup GPT on its first boot (resindataexpander).
func (o Options) relocateGPT() {
	if o.RawSize == o.Disk.Size() {
		return
	}
	err := disk.RelocateGPTBackup(o.Disk, o.Disk.Size(), o.Disk.SectorSize())
	if err == nil {
		err = o.Disk.Sync()
	}
	if err != nil {
		o.Log.WithError(err).Warn("backup GPT left where the image put it")
	}
}
