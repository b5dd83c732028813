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
