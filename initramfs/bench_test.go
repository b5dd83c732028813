package initramfs

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// benchChildEnv makes the test binary act as the archive writer of
// BenchmarkBuildInitrd: "SOURCE OUTPUT".
const benchChildEnv = "TAKEOVER_INITRAMFS_BENCH_CHILD"

func TestMain(m *testing.M) {
	if args := os.Getenv(benchChildEnv); args != "" {
		if err := benchChild(args); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// benchChild writes a one-image archive and syncs it, as build-initrd does.
func benchChild(args string) error {
	var src, dst string
	if _, err := fmt.Sscan(args, &src, &dst); err != nil {
		return err
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	err = WriteArchive(f, []Entry{{Path: "/takeover/image/balena.img", Source: src, Mode: 0o644}})
	if err != nil {
		return err
	}
	return f.Sync()
}

// BenchmarkBuildInitrd compares writing an archive around a 1 GiB image
// (in a child process, to measure its peak RSS) with `cp` and `sync` of the
// same file. Targets: ratio <= 1.2, peak RSS <= 64 MiB.
func BenchmarkBuildInitrd(b *testing.B) {
	dir := b.TempDir()
	src := filepath.Join(dir, "image")
	writeRandomFile(b, src, 1<<30)

	var cpTimes, ourTimes []time.Duration
	var maxRSS int64
	copyOut, ourOut := filepath.Join(dir, "copy"), filepath.Join(dir, "initrd")
	for i := 0; i < b.N; i++ {
		// Fresh outputs and alternating order, so neither side pays for the
		// other's truncation or writeback.
		os.Remove(copyOut)
		os.Remove(ourOut)
		cp := exec.Command("sh", "-c", `cp "$1" "$2" && sync "$2"`, "sh", src, copyOut)
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), benchChildEnv+"="+src+" "+ourOut)
		if i%2 == 0 {
			cpTimes = append(cpTimes, timed(b, cp))
			ourTimes = append(ourTimes, timed(b, cmd))
		} else {
			ourTimes = append(ourTimes, timed(b, cmd))
			cpTimes = append(cpTimes, timed(b, cp))
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			maxRSS = max(maxRSS, int64(ru.Maxrss)) // KiB on Linux
		}
	}
	ourTime, cpTime := median(ourTimes), median(cpTimes)
	ratio := float64(ourTime) / float64(cpTime)
	b.ReportMetric(ratio, "ratio-vs-cp")
	b.ReportMetric(float64(maxRSS)/1024, "peak-RSS-MiB")
	fmt.Printf("build-initrd 1 GiB (median of %d): %v, cp+sync: %v, ratio %.2f (target <= 1.2); "+
		"peak RSS %.1f MiB (target <= 64)\n", b.N, ourTime, cpTime, ratio, float64(maxRSS)/1024)
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	slices.Sort(s)
	return s[len(s)/2]
}

func timed(b *testing.B, cmd *exec.Cmd) time.Duration {
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	return time.Since(start)
}

// writeRandomFile writes size bytes that neither compress nor repeat.
func writeRandomFile(b *testing.B, name string, size int64) {
	f, err := os.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4<<20)
	rng := rand.New(rand.NewSource(1))
	for written := int64(0); written < size; written += int64(len(buf)) {
		rng.Read(buf)
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
}
