package flash

import "fmt"

// rangeSyncer is a Disk that can write ranges out in the background.
type rangeSyncer interface {
	StartWriteback(off, n int64) error
	AwaitWriteback(off, n int64) error
}

// writeback bounds dirty memory while keeping the disk busy: when a window
// of SyncEvery bytes is full it starts writing that window out and waits
// for the window before it, so at most two windows are dirty. A Disk
// without range syncing is synced whole every window instead.
type writeback struct {
	d          Disk
	window     int64
	start, end int64 // the window being filled
	prev       [2]int64
	havePrev   bool
}

func newWriteback(d Disk, window int64) *writeback {
	return &writeback{d: d, window: window, start: -1}
}

// wrote records that [off, off+n) was written; writes come in order.
func (w *writeback) wrote(off, n int64) error {
	if n == 0 {
		return nil
	}
	if w.start < 0 {
		w.start = off
	}
	w.end = off + n
	if w.end-w.start < w.window {
		return nil
	}
	rs, ok := w.d.(rangeSyncer)
	if !ok {
		w.start = -1
		if err := w.d.Sync(); err != nil {
			return fmt.Errorf("syncing at byte %d: %w", w.end, err)
		}
		return nil
	}
	if err := rs.StartWriteback(w.start, w.end-w.start); err != nil {
		return err
	}
	if w.havePrev {
		if err := rs.AwaitWriteback(w.prev[0], w.prev[1]); err != nil {
			return err
		}
	}
	w.prev, w.havePrev, w.start = [2]int64{w.start, w.end - w.start}, true, -1
	return nil
}
