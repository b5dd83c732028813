package kexec

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/takeover-dev/takeover/initramfs"
	"github.com/takeover-dev/takeover/internal/vmtest"
)

// TestVMKexec boots Debian's cloud kernel under QEMU with an initramfs whose
// /init (testdata/vminit) finds that kernel, loads it with a second
// initramfs, unloads and reloads it, and jumps; the second boot prints its
// command line. It proves FindKernel on a real bzImage, Load, Unload, Jump
// without systemd, and the command line stage2 gets.
func TestVMKexec(t *testing.T) {
	if testing.Short() {
		t.Skip("QEMU test: skipped in -short mode")
	}
	if why := vmtest.Available(); why != "" {
		t.Skip(why)
	}
	kernel := cachedKernel(t)
	dir := t.TempDir()
	init := filepath.Join(dir, "init")
	if err := vmtest.BuildInit("./testdata/vminit", init); err != nil {
		t.Fatal(err)
	}
	stage2 := writeArchive(t, filepath.Join(dir, "stage2.cpio"), []initramfs.Entry{
		{Path: "/init", Source: init, Mode: 0o755},
		console(),
	})
	release := strings.TrimPrefix(filepath.Base(kernel), "vmlinuz-")
	first := writeArchive(t, filepath.Join(dir, "first.cpio"), []initramfs.Entry{
		{Path: "/init", Source: init, Mode: 0o755},
		console(),
		{Path: "/boot/vmlinuz-" + release, Source: kernel, Mode: 0o644},
		{Path: "/stage2.cpio", Source: stage2, Mode: 0o644},
	})

	vm, err := vmtest.Start(vmtest.Config{
		Kernel: kernel, Initrd: first, MemoryMB: 512,
		Append:    "console=ttyS0 root=/dev/sda1 ro quiet rdinit=/init panic=-1",
		SerialLog: filepath.Join(dir, "serial.log"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Kill()
	fatal := func(format string, args ...any) {
		log, _ := os.ReadFile(filepath.Join(dir, "serial.log"))
		t.Fatalf(format+"\nqemu: %s\nserial console:\n%s", append(args, vm.CommandLine(), log)...)
	}

	ctx := context.Background()
	const timeout = 4 * time.Minute // TCG on a shared machine; about 20 s when idle
	marker, line, err := vm.WaitForAny(ctx, timeout, "VMTEST-UNLOAD", "VMTEST-FAIL")
	if err != nil || marker != "VMTEST-UNLOAD" {
		fatal("first boot: %q, %v; want VMTEST-UNLOAD", line, err)
	}
	if !strings.Contains(line, "loaded=1 unloaded=0") {
		fatal("Load then Unload: %q, want kexec_loaded 1 then 0", line)
	}
	if line, err = vm.WaitFor(ctx, "VMTEST-FOUND", time.Second); err != nil ||
		!strings.Contains(line, "kernel=/boot/vmlinuz-"+release+" ") {
		fatal("FindKernel: %q, %v; want /boot/vmlinuz-%s", line, err, release)
	}
	marker, line, err = vm.WaitForAny(ctx, timeout, "VMTEST-STAGE2", "VMTEST-FAIL")
	if err != nil || marker != "VMTEST-STAGE2" {
		fatal("after Jump: %q, %v; want VMTEST-STAGE2", line, err)
	}
	want := `cmdline="console=ttyS0 loglevel=4 rdinit=/init panic=10 takeover.vmtest=stage2"`
	if !strings.Contains(line, want) {
		fatal("stage2 got %q, want %s", line, want)
	}
	t.Logf("kexec round trip in %s", vm.Elapsed().Round(time.Second))
	if err := vm.Wait(time.Minute); err != nil {
		t.Error(err)
	}
}

func console() initramfs.Entry {
	return initramfs.Entry{Path: "/dev/console", Mode: os.ModeDevice | os.ModeCharDevice | 0o600,
		Rmajor: 5, Rminor: 1}
}

func writeArchive(t *testing.T, path string, entries []initramfs.Entry) string {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := initramfs.WriteArchive(f, entries); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
	return path
}

// cachedKernel returns the kernel scripts/fetch-kernel.sh unpacked, or skips.
func cachedKernel(t *testing.T) string {
	t.Helper()
	kernel, _, err := vmtest.FetchedKernel()
	if err != nil {
		t.Skip(err)
	}
	return kernel
}
