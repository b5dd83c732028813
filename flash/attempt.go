package flash

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sync/errgroup"

	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/progress"
)

// buffers is how many chunks are in flight between reading, hashing and
// writing.
const buffers = 4

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

func (a *attempt) zeroHead() error {
	*a.written = true
	n := min(HeadSize, a.o.Disk.Size())
	if _, err := a.o.Disk.WriteAt(make([]byte, n), 0); err != nil {
		return fmt.Errorf("zeroing the first %d bytes: %w", n, err)
	}
	return nil
}

// chunk is a piece of the image at offset off.
type chunk struct {
	buf []byte
	off int64
}

// stream reads, hashes and writes the image after its head, in three
// goroutines so that decompression, hashing and writing overlap.
func (a *attempt) stream(r io.Reader) error {
	g, ctx := errgroup.WithContext(a.ctx)
	free := make(chan []byte, buffers)
	for range buffers {
		free <- make([]byte, a.o.ChunkSize)
	}
	toHash, toWrite := make(chan chunk, buffers), make(chan chunk, buffers)
	sum := sha256.New()
	counter := &progress.Counter{}
	rep := progress.Start(a.o.Log, counter, progress.Options{Phase: "flash",
		Total: a.o.RawSize, TTY: a.o.TTY, Interval: a.o.Interval})

	g.Go(guard(func() error { return a.read(ctx, r, free, toHash) }))
	g.Go(guard(func() error { return pass(ctx, toHash, toWrite, sum) }))
	g.Go(guard(func() error { return a.write(ctx, toWrite, free, counter) }))
	err := g.Wait()
	rep.Stop()
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != a.o.RawSHA256 {
		return exitcode.With(exitcode.Flash, fmt.Errorf("%w: sha256 %s, want %s",
			ErrPayloadCorrupt, got, a.o.RawSHA256))
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

// read fills chunks from the stream and keeps a copy of the head. The stream
// must end exactly at RawSize.
func (a *attempt) read(ctx context.Context, r io.Reader, free <-chan []byte,
	out chan<- chunk) error {
	defer close(out)
	a.head = make([]byte, a.headLen())
	var off int64
	for off < a.o.RawSize {
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
			return ctx.Err()
		}
		buf = buf[:min(int64(cap(buf)), a.o.RawSize-off)]
		n, err := io.ReadFull(r, buf)
		if err != nil {
			return a.streamError(off+int64(n), err)
		}
		if off < int64(len(a.head)) {
			copy(a.head[off:], buf)
		}
		select {
		case out <- chunk{buf: buf, off: off}:
		case <-ctx.Done():
			return ctx.Err()
		}
		off += int64(n)
	}
	return a.expectEnd(r)
}

func (a *attempt) streamError(at int64, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return exitcode.With(exitcode.Flash, fmt.Errorf("%w: stream ended at byte %d of %d",
			ErrPayloadCorrupt, at, a.o.RawSize))
	}
	return exitcode.With(exitcode.Flash, fmt.Errorf("%w: reading image at byte %d: %w",
		ErrPayloadCorrupt, at, err))
}

// expectEnd checks that the stream has nothing after RawSize bytes.
func (a *attempt) expectEnd(r io.Reader) error {
	var one [1]byte
	n, err := io.ReadFull(r, one[:])
	if n > 0 {
		return exitcode.With(exitcode.Flash, fmt.Errorf("%w: stream longer than %d bytes",
			ErrPayloadCorrupt, a.o.RawSize))
	}
	if !errors.Is(err, io.EOF) {
		return exitcode.With(exitcode.Flash, fmt.Errorf("%w: reading image end: %w",
			ErrPayloadCorrupt, err))
	}
	return nil
}

// pass hashes each chunk and hands it on.
func pass(ctx context.Context, in <-chan chunk, out chan<- chunk, h io.Writer) error {
	defer close(out)
	for c := range in {
		h.Write(c.buf) // a hash never fails
		select {
		case out <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// write puts each chunk on the disk, leaving out the head, and bounds dirty
// memory every SyncEvery bytes.
func (a *attempt) write(ctx context.Context, in <-chan chunk, free chan<- []byte,
	counter *progress.Counter) error {
	wb := newWriteback(a.o.Disk, a.o.SyncEvery)
	for c := range in {
		buf, off := c.buf, c.off
		if skip := HeadSize - off; skip > 0 {
			buf, off = buf[min(skip, int64(len(buf))):], off+min(skip, int64(len(buf)))
		}
		if len(buf) > 0 {
			if _, err := a.o.Disk.WriteAt(buf, off); err != nil {
				return exitcode.With(exitcode.Flash, fmt.Errorf("writing %d bytes at byte %d: %w",
					len(buf), off, err))
			}
		}
		counter.Add(len(c.buf))
		if err := wb.wrote(off, int64(len(buf))); err != nil {
			return exitcode.With(exitcode.Flash, err)
		}
		free <- c.buf[:cap(c.buf)]
	}
	return ctx.Err()
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

// verify reads RawSize bytes back from the disk and compares their digest.
func (a *attempt) verify() error {
	got, err := a.readBack()
	if err != nil {
		return exitcode.With(exitcode.Verify, fmt.Errorf("verifying: %w", err))
	}
	a.readSHA = got
	if got != a.o.RawSHA256 {
		return exitcode.With(exitcode.Verify, fmt.Errorf("verifying: %w: sha256 %s, want %s",
			ErrVerifyMismatch, got, a.o.RawSHA256))
	}
	return nil
}

// readers is how many reads of the disk are in flight during the
// read-back: more than one keeps a disk's queue full while hashing.
const readers = 2

// readBack hashes the disk's first RawSize bytes. Reader j reads chunks j,
// j+readers, ... into its own two buffers; the hasher takes them in order.
func (a *attempt) readBack() (string, error) {
	g, ctx := errgroup.WithContext(a.ctx)
	size := int64(a.o.ChunkSize)
	chunks := int((a.o.RawSize + size - 1) / size)
	var out, free [readers]chan []byte
	for j := range readers {
		out[j], free[j] = make(chan []byte, 2), make(chan []byte, 2)
		free[j] <- make([]byte, size)
		free[j] <- make([]byte, size)
		g.Go(guard(func() error { return a.readDisk(ctx, j, chunks, free[j], out[j]) }))
	}
	sum := sha256.New()
	counter := &progress.Counter{}
	rep := progress.Start(a.o.Log, counter, progress.Options{Phase: "verify",
		Total: a.o.RawSize, TTY: a.o.TTY, Interval: a.o.Interval})
	hashed := 0
	for ; hashed < chunks; hashed++ {
		buf, ok := <-out[hashed%readers]
		if !ok {
			break // the reader failed; g.Wait has its error
		}
		sum.Write(buf)
		counter.Add(len(buf))
		free[hashed%readers] <- buf[:cap(buf)]
	}
	err := g.Wait()
	rep.Stop()
	if err == nil && hashed < chunks {
		err = fmt.Errorf("read-back stopped after %d of %d chunks", hashed, chunks)
	}
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}

// readDisk reads chunks j, j+readers, ... of the image's extent on disk.
func (a *attempt) readDisk(ctx context.Context, j, chunks int, free <-chan []byte,
	out chan<- []byte) error {
	defer close(out)
	for i := j; i < chunks; i += readers {
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
			return ctx.Err()
		}
		off := int64(i) * int64(a.o.ChunkSize)
		buf = buf[:min(int64(len(buf)), a.o.RawSize-off)]
		n, err := a.o.Disk.ReadAt(buf, off)
		if n < len(buf) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("reading %d bytes at byte %d: %w", len(buf), off, err)
		}
		select {
		case out <- buf:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
