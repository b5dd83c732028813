package image

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// window lets a reader that reads at non-decreasing offsets, such as
// disk.ReadTable, run as an io.ReaderAt over a stream that passes only
// once. The stream's consumer calls feed with each chunk in order; a ReadAt
// blocks until the chunks it asks for have gone by. feed holds each chunk
// until the reader has asked for something past it or is done, so nothing
// the reader needs is missed, and nothing is retained.
type window struct {
	mu     sync.Mutex
	cond   *sync.Cond
	pos    int64 // stream offset of the next chunk
	req    *windowRead
	ended  bool // the stream has ended or failed
	closed bool // the reader is done
}

type windowRead struct {
	p      []byte
	off    int64
	filled int
	err    error
	done   bool
}

// errPassed means a read asked for bytes the stream has already passed.
var errPassed = errors.New("read behind the stream's position")

func newWindow() *window {
	w := &window{}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// ReadAt serves p from the stream at off, waiting for it to arrive.
func (w *window) ReadAt(p []byte, off int64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case off < w.pos:
		return 0, fmt.Errorf("reading %d bytes at byte %d, stream at %d: %w", len(p), off, w.pos,
			errPassed)
	case w.ended:
		return 0, io.EOF
	case len(p) == 0:
		return 0, nil
	}
	r := &windowRead{p: p, off: off}
	w.req = r
	w.cond.Broadcast()
	for !r.done {
		w.cond.Wait()
	}
	return r.filled, r.err
}

// feed offers the next chunk of the stream; it returns once the reader
// needs nothing more from it.
func (w *window) feed(chunk []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	end := w.pos + int64(len(chunk))
	for !w.closed {
		if w.req == nil {
			w.cond.Wait() // the reader is working out its next read
			continue
		}
		r := w.req
		next := r.off + int64(r.filled)
		if next >= end {
			break
		}
		if next < w.pos {
			w.finish(r, errPassed)
			continue
		}
		r.filled += copy(r.p[r.filled:], chunk[next-w.pos:])
		if r.filled < len(r.p) {
			break
		}
		w.finish(r, nil)
	}
	w.pos = end
}

func (w *window) finish(r *windowRead, err error) {
	r.err, r.done = err, true
	w.req = nil
	w.cond.Broadcast()
}

// end marks the end of the stream: a waiting read gets what it has and
// io.EOF.
func (w *window) end() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ended = true
	if w.req != nil {
		w.finish(w.req, io.EOF)
	}
}

// close says the reader is done, so feed waits for it no more.
func (w *window) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	w.cond.Broadcast()
}
