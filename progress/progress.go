// Package progress counts bytes through a long transfer and reports them
// about once per interval: a redrawn line on a terminal, plain log lines
// elsewhere (serial consoles, log files), and one summary at the end.
package progress

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// Counter is an io.Writer that counts what passes through it. Use it with
// io.TeeReader or io.MultiWriter; it never fails.
type Counter struct{ n atomic.Int64 }

// Write counts p.
func (c *Counter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// Add counts n bytes moved by other means (WriteAt, ReadAt).
func (c *Counter) Add(n int) { c.n.Add(int64(n)) }

// N returns the bytes counted so far.
func (c *Counter) N() int64 { return c.n.Load() }

// Reporter ticks while a phase runs.
type Reporter struct {
	log      logrus.FieldLogger
	phase    string
	total    int64
	counter  *Counter
	tty      io.Writer // non-nil: redraw one line here instead of logging
	start    time.Time
	stop     chan struct{}
	done     sync.WaitGroup
	stopOnce sync.Once
}

// Options configure a Reporter.
type Options struct {
	Phase    string        // e.g. "download", "flash", "verify"
	Total    int64         // expected bytes, 0 when unknown
	Interval time.Duration // 0 means one second
	TTY      io.Writer     // set to redraw a line on a terminal
}

// Start begins reporting c's progress; call Stop before the next log line.
func Start(log logrus.FieldLogger, c *Counter, o Options) *Reporter {
	r := &Reporter{log: log, phase: o.Phase, total: o.Total, counter: c, tty: o.TTY,
		start: time.Now(), stop: make(chan struct{})}
	interval := o.Interval
	if interval <= 0 {
		interval = time.Second
	}
	r.done.Add(1)
	go r.loop(interval)
	return r
}

func (r *Reporter) loop(interval time.Duration) {
	defer r.done.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			if r.tty != nil {
				fmt.Fprint(r.tty, "\r\033[K")
			}
			return
		case <-t.C:
			r.tick()
		}
	}
}

func (r *Reporter) tick() {
	n := r.counter.N()
	el := time.Since(r.start)
	if r.tty != nil {
		fmt.Fprintf(r.tty, "\r\033[K%s %s", r.phase, Line(n, r.total, el))
		return
	}
	f := logrus.Fields{"phase": r.phase, "bytes": n, "mibps": fmt.Sprintf("%.1f", MiBps(n, el))}
	if r.total > 0 {
		f["percent"] = fmt.Sprintf("%.1f", 100*float64(n)/float64(r.total))
	}
	r.log.WithFields(f).Info("progress")
}

// Stop ends the ticking and logs one summary line: bytes, duration, MiB/s.
// It returns the summary fields for callers that want them.
func (r *Reporter) Stop() logrus.Fields {
	r.stopOnce.Do(func() { close(r.stop) })
	r.done.Wait()
	n, el := r.counter.N(), time.Since(r.start)
	f := logrus.Fields{"phase": r.phase, "bytes": n,
		"duration": el.Round(time.Millisecond).String(), "mibps": fmt.Sprintf("%.1f", MiBps(n, el))}
	r.log.WithFields(f).Info("phase done")
	return f
}

// MiBps is bytes per second in MiB.
func MiBps(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / (1 << 20) / d.Seconds()
}

// Line renders a human progress line such as "512.0/1024.0 MiB 50.0% 12.3 MiB/s".
func Line(n, total int64, el time.Duration) string {
	mib := float64(n) / (1 << 20)
	if total > 0 {
		return fmt.Sprintf("%.1f/%.1f MiB %.1f%% %.1f MiB/s", mib, float64(total)/(1<<20),
			100*float64(n)/float64(total), MiBps(n, el))
	}
	return fmt.Sprintf("%.1f MiB %.1f MiB/s", mib, MiBps(n, el))
}
