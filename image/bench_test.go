package image

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/takeover-dev/takeover/internal/testimage"
)

// BenchmarkValidate1GiB validates a 1 GiB synthetic image, gzipped, whose
// data partition holds semi-compressible filler like a real root file
// system, and compares the time with `pigz -dc | sha256sum` and
// `gzip -dc | sha256sum` over the same file (run it with -benchtime 1x or
// a few x; the image is built once into $TAKEOVER_CACHE/bench, which takes
// about a minute, and reused).
//
//	go test -run '^$' -bench Validate1GiB -benchtime 3x ./image/
func BenchmarkValidate1GiB(b *testing.B) {
	gz := bigImage(b)
	pigz := shellTime(b, "pigz -dc "+gz+" | sha256sum")
	gzipT := shellTime(b, "gzip -dc "+gz+" | sha256sum")
	st, err := os.Stat(gz)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1 << 30)
	b.ResetTimer()
	start, cpu0 := time.Now(), selfCPU()
	for range b.N {
		if _, err := Validate(context.Background(), gz, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	ours := timing{wall: time.Since(start) / time.Duration(b.N),
		cpu: (selfCPU() - cpu0) / time.Duration(b.N)}
	b.StopTimer()
	b.ReportMetric(ours.wall.Seconds()/pigz.wall.Seconds(), "x-pigz")
	b.ReportMetric(ours.wall.Seconds()/gzipT.wall.Seconds(), "x-gzip")
	b.ReportMetric(ours.cpu.Seconds()/pigz.cpu.Seconds(), "x-pigz-cpu")
	b.Logf("compressed %d bytes; validate %v, pigz -dc|sha256sum %v, gzip -dc|sha256sum %v",
		st.Size(), ours, pigz, gzipT)
}

func bigImage(b *testing.B) string {
	b.Helper()
	for _, tool := range []string{"pigz", "gzip", "sha256sum", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s not installed", tool)
		}
	}
	if missing := testimage.MissingTools(); len(missing) > 0 {
		b.Skipf("building test images needs %s", strings.Join(missing, ", "))
	}
	dir := cacheDir(b)
	gz := filepath.Join(dir, "validate-1gib-v1.img.gz")
	if _, err := os.Stat(gz); err == nil {
		return gz
	}
	tmp := b.TempDir()
	raw, err := testimage.Build(tmp, testimage.Options{Size: 1 << 30, DataFill: 850 << 20})
	if err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("pigz", "-6", raw).CombinedOutput(); err != nil {
		b.Fatalf("pigz %s: %v\n%s", raw, err, out)
	}
	if err := os.Rename(raw+".gz", gz); err != nil {
		b.Fatal(err)
	}
	return gz
}

// cacheDir keeps the benchmark image across runs, where the project keeps
// its caches.
func cacheDir(b *testing.B) string {
	dir := os.Getenv("TAKEOVER_CACHE")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			b.Skipf("no cache directory: %v", err)
		}
		dir = filepath.Join(home, ".cache", "takeover")
	}
	dir = filepath.Join(dir, "bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	return dir
}

// shellTime runs cmd and returns its wall-clock and CPU time (user+system
// of the shell and the pipeline it waited for).
func shellTime(b *testing.B, cmd string) timing {
	b.Helper()
	start := time.Now()
	c := exec.Command("bash", "-o", "pipefail", "-c", cmd)
	if out, err := c.CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return timing{wall: time.Since(start),
		cpu: c.ProcessState.UserTime() + c.ProcessState.SystemTime()}
}

type timing struct{ wall, cpu time.Duration }

func (t timing) String() string { return fmt.Sprintf("%v wall, %v CPU", t.wall, t.cpu) }

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
