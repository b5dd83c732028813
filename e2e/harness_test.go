//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/takeover-dev/takeover/internal/vmtest"
)

// Per-run timeouts, generous for TCG on two shared cores.
const (
	bootTimeout   = 240 * time.Second // old OS to OLD-OS-BOOTED
	stage2Timeout = 300 * time.Second // takeover start to a stage2 verdict
	newOSTimeout  = 90 * time.Second
)

// oldOS is the cached Debian disk built by scripts/build-oldos.sh.
type oldOS struct {
	Dir, Disk, Kernel, Initrd, Release string
}

var (
	oldOSOnce sync.Once
	oldOSVal  oldOS
	oldOSErr  error
)

func repoRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Fatalf("finding the module root: go env GOMOD: %v", err)
	}
	return filepath.Dir(string(bytes.TrimSpace(out)))
}

func cacheDir() string {
	if d := os.Getenv("TAKEOVER_CACHE"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "takeover")
}

// requireVM skips the test when QEMU or the image tools are missing.
func requireVM(t *testing.T) {
	t.Helper()
	if why := vmtest.Available(); why != "" {
		t.Skip(why)
	}
	for _, tool := range []string{"mmdebstrap", "sfdisk", "mke2fs", "debugfs", "mtype"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (run scripts/deps.sh)", tool)
		}
	}
}

// getOldOS builds (or finds in the cache) the old OS disk.
func getOldOS(t *testing.T) oldOS {
	t.Helper()
	oldOSOnce.Do(func() {
		start := time.Now()
		cmd := exec.Command(filepath.Join(repoRoot(t), "scripts", "build-oldos.sh"), cacheDir())
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			oldOSErr = fmt.Errorf("scripts/build-oldos.sh: %w\n%s", err, lastLines(stderr.String(), 30))
			return
		}
		dir := strings.TrimSpace(string(out))
		rel, err := os.ReadFile(filepath.Join(dir, "release"))
		if err != nil {
			oldOSErr = err
			return
		}
		oldOSVal = oldOS{
			Dir: dir, Disk: filepath.Join(dir, "disk.img"),
			Kernel: filepath.Join(dir, "vmlinuz"), Initrd: filepath.Join(dir, "initrd.img"),
			Release: strings.TrimSpace(string(rel)),
		}
		fmt.Printf("old OS ready in %s: %s (kernel %s)\n",
			time.Since(start).Round(time.Second), dir, oldOSVal.Release)
	})
	if oldOSErr != nil {
		t.Fatalf("building the old OS: %v", oldOSErr)
	}
	return oldOSVal
}

// rootPartitionOffset is where build-oldos.sh puts the ext4 root.
const rootPartitionOffset = 2048 * 512

// scenarioDisk copies the cached old OS disk into the test's directory and
// writes files (scenario script, configs, binaries) into its root.
func scenarioDisk(t *testing.T, os oldOS, files []vmtest.File) string {
	t.Helper()
	disk := filepath.Join(t.TempDir(), "oldos.img")
	if err := vmtest.CopySparse(os.Disk, disk); err != nil {
		t.Fatal(err)
	}
	if err := vmtest.InjectExt4(disk, rootPartitionOffset, files); err != nil {
		t.Fatal(err)
	}
	return disk
}

// scenarioScript is /etc/takeover/scenario.sh: it runs body, prints the
// exit code, then powers the old OS off (ending QEMU) when body returns.
func scenarioScript(body string) vmtest.File {
	script := "#!/bin/bash\nset -u\n" + body +
		"\nrc=$?\necho \"OLD-OS-TAKEOVER-EXIT rc=$rc\"\n" +
		"echo OLD-OS-STILL-RUNNING\nsync\nsystemctl poweroff --no-block\n"
	return vmtest.File{Path: "/etc/takeover/scenario.sh", Data: []byte(script), Mode: 0o755}
}

// bootOldOS starts QEMU on the old OS disk, the way a real machine boots:
// the kernel and initrd from its /boot, root on a virtio disk.
func bootOldOS(t *testing.T, o oldOS, disk vmtest.Disk, fwd []vmtest.Forward) *vmtest.VM {
	t.Helper()
	disk.Interface = "virtio"
	return startVM(t, "oldos", vmtest.Config{
		Kernel:   o.Kernel,
		Initrd:   o.Initrd,
		Append:   "root=/dev/vda1 rw console=ttyS0 panic=-1 net.ifnames=0",
		Disks:    []vmtest.Disk{disk},
		Network:  true,
		Forwards: fwd,
	})
}

// startVM starts a VM whose report (command line, last serial lines) is
// printed when the test fails, and which is killed when the test ends.
func startVM(t *testing.T, name string, c vmtest.Config) *vmtest.VM {
	t.Helper()
	c.SerialLog = filepath.Join(logDir(t), name+"-serial.log")
	vm, err := vmtest.Start(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		vm.Kill()
		if t.Failed() {
			t.Logf("VM %s failed:\n%s", name, vm.Report())
		}
		t.Logf("VM %s ran %s (serial log %s)", name, vm.Elapsed().Round(time.Second), c.SerialLog)
	})
	return vm
}

// expect waits for marker on vm's console, failing the test otherwise; it
// fails at once when one of the failure markers shows first.
func expect(t *testing.T, vm *vmtest.VM, marker string, timeout time.Duration,
	failures ...string) string {
	t.Helper()
	got, line, err := vm.WaitForAny(context.Background(), timeout,
		append([]string{marker}, failures...)...)
	if err != nil {
		t.Fatalf("waiting for %s: %v", marker, err)
	}
	if got != marker {
		t.Fatalf("waiting for %s: got %q instead", marker, line)
	}
	t.Logf("PASS %s at %s: %s", marker, vm.Elapsed().Round(time.Second), line)
	return line
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// timed prints the test's wall time when it ends.
func timed(t *testing.T) {
	start := time.Now()
	t.Cleanup(func() {
		t.Logf("wall time %s", time.Since(start).Round(100*time.Millisecond))
	})
}

// step logs a heading for the demo's readable output.
func step(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf("STEP "+format, args...)
}

// logDir is where a test's serial logs go: E2E_LOG_DIR/<test> when set (kept
// after the run), the test's temporary directory otherwise.
func logDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("E2E_LOG_DIR")
	if base == "" {
		return t.TempDir()
	}
	dir := filepath.Join(base, strings.ReplaceAll(t.Name(), "/", "_"))
	must(t, os.MkdirAll(dir, 0o755))
	return dir
}
