package vmtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// ErrExited is returned by WaitFor when QEMU ends before the marker shows.
var ErrExited = errors.New("qemu exited before the marker appeared")

// VM is a running QEMU guest.
type VM struct {
	cmd     *exec.Cmd
	started time.Time
	console *console
	done    chan struct{}
	waitErr error
}

// Start launches QEMU for c. The serial console goes to c.SerialLog (when
// set) and is watched by WaitFor.
func Start(c Config) (*VM, error) {
	if why := Available(); why != "" {
		return nil, errors.New(why)
	}
	con := newConsole()
	if c.SerialLog != "" {
		f, err := os.Create(c.SerialLog)
		if err != nil {
			return nil, fmt.Errorf("creating serial log: %w", err)
		}
		con.file = f
	}
	cmd := exec.Command(QEMUBinary, c.Args()...)
	cmd.Stdout = con
	cmd.Stderr = con
	vm := &VM{cmd: cmd, console: con, done: make(chan struct{})}
	vm.started = time.Now()
	if err := cmd.Start(); err != nil {
		con.close()
		return nil, fmt.Errorf("starting %s: %w", QEMUBinary, err)
	}
	go vm.reap()
	return vm, nil
}

func (vm *VM) reap() {
	vm.waitErr = vm.cmd.Wait()
	vm.console.close()
	close(vm.done)
}

// CommandLine is QEMU's command line, quoted for a shell.
func (vm *VM) CommandLine() string {
	quoted := make([]string, len(vm.cmd.Args))
	for i, a := range vm.cmd.Args {
		quoted[i] = shellQuote(a)
	}
	return strings.Join(quoted, " ")
}

// Elapsed is the time since QEMU started.
func (vm *VM) Elapsed() time.Duration { return time.Since(vm.started) }

// WaitFor waits until a console line contains marker and returns that line.
// It fails when QEMU exits first, when timeout passes or ctx ends.
func (vm *VM) WaitFor(ctx context.Context, marker string, timeout time.Duration) (string, error) {
	_, line, err := vm.WaitForAny(ctx, timeout, marker)
	return line, err
}

// WaitForAny waits until a console line contains one of markers and returns
// the marker and the line. Markers are searched from the start of the
// console, so a marker printed before the call is found too.
func (vm *VM) WaitForAny(ctx context.Context, timeout time.Duration,
	markers ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	seen := 0
	for {
		lines, changed, closed := vm.console.snapshot(seen)
		for _, l := range lines {
			for _, m := range markers {
				if strings.Contains(l, m) {
					return m, l, nil
				}
			}
		}
		seen += len(lines)
		if closed {
			return "", "", fmt.Errorf("waiting for %q: %w", markers, ErrExited)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return "", "", fmt.Errorf("waiting for %q after %s: %w", markers, timeout, ctx.Err())
		}
	}
}

// Wait waits for QEMU to exit (a guest reboot or poweroff, under -no-reboot)
// and kills it when timeout passes first.
func (vm *VM) Wait(timeout time.Duration) error {
	select {
	case <-vm.done:
		return nil
	case <-time.After(timeout):
		vm.Kill()
		return fmt.Errorf("qemu still running after %s: killed", timeout)
	}
}

// Kill stops QEMU at once and waits for it to be reaped.
func (vm *VM) Kill() {
	select {
	case <-vm.done:
		return
	default:
	}
	_ = vm.cmd.Process.Kill() // it may have exited meanwhile; reap tells
	<-vm.done
}

// Output is every complete console line so far.
func (vm *VM) Output() []string {
	lines, _, _ := vm.console.snapshot(0)
	return lines
}

// Tail is the last n console lines.
func (vm *VM) Tail(n int) []string {
	lines := vm.Output()
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// Report describes the run for a failure message: command line, run time
// and the last 50 console lines.
func (vm *VM) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "qemu command line:\n  %s\n", vm.CommandLine())
	fmt.Fprintf(&b, "ran for %s; last serial lines:\n", vm.Elapsed().Round(time.Second))
	for _, l := range vm.Tail(50) {
		fmt.Fprintf(&b, "  | %s\n", l)
	}
	return b.String()
}

// console collects QEMU's output as lines and wakes waiters on each line.
type console struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	changed chan struct{}
	closed  bool
	file    *os.File
}

func newConsole() *console { return &console{changed: make(chan struct{})} }

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.file != nil {
		_, _ = c.file.Write(p) // the log is a copy; the lines in memory are the verdict
	}
	c.partial = append(c.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.lines = append(c.lines, cleanLine(c.partial[:i]))
		c.partial = c.partial[i+1:]
		added = true
	}
	if added {
		close(c.changed)
		c.changed = make(chan struct{})
	}
	return len(p), nil
}

func (c *console) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.partial) > 0 {
		c.lines = append(c.lines, cleanLine(c.partial))
		c.partial = nil
	}
	if c.file != nil {
		_ = c.file.Close()
		c.file = nil
	}
	c.closed = true
	close(c.changed)
	c.changed = make(chan struct{})
}

// snapshot returns the lines from index from on, a channel closed on the
// next change, and whether the console is closed.
func (c *console) snapshot(from int) ([]string, <-chan struct{}, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if from > len(c.lines) {
		from = len(c.lines)
	}
	return append([]string(nil), c.lines[from:]...), c.changed, c.closed
}

func cleanLine(b []byte) string {
	return strings.TrimRight(string(b), "\r")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == '/' || r == '=' || r == ':' ||
			r == ',' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Find returns the first console line so far that contains marker.
func (vm *VM) Find(marker string) (string, bool) {
	for _, l := range vm.Output() {
		if strings.Contains(l, marker) {
			return l, true
		}
	}
	return "", false
}
