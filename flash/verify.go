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
