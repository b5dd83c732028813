package efi

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/takeover-dev/takeover/internal/vmtest"

	"github.com/cavaliergopher/cpio"
)

const (
	ovmfCode = "/usr/share/OVMF/OVMF_CODE.fd"
	ovmfVars = "/usr/share/OVMF/OVMF_VARS.fd"
	// vmPartGUID is the test disk's partition 1 unique GUID.
	vmPartGUID = "6a1b7d2e-3c4f-4e5a-9b8c-0d1e2f3a4b5c"
)

// TestVMSetupUnderOVMF proves Setup against real firmware. Boot 1: OVMF
// starts Debian's kernel with testdata/vminit as /init, which runs Setup
// twice for partition 1 of a GPT disk through efivarfs (the second run
// replaces the first run's entry) and prints what the firmware returns. Boot 2: OVMF alone, with the same variable store and
// no kernel given, must pick our "balenaOS" entry first and load
// \EFI\BOOT\bootx64.efi from that partition.
func TestVMSetupUnderOVMF(t *testing.T) {
	if testing.Short() {
		t.Skip("QEMU test skipped in -short mode")
	}
	for _, tool := range []string{"qemu-system-x86_64", "sgdisk", "mkfs.vfat", "mcopy", "mmd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	if _, err := os.Stat(ovmfCode); err != nil {
		t.Skip("OVMF not installed (apt-get install ovmf)")
	}
	kernel, efivarfsKo := vmKernel(t)
	dir := t.TempDir()
	vars := filepath.Join(dir, "vars.fd")
	copyFile(t, ovmfVars, vars)
	disk := vmDisk(t, dir, kernel)
	initrd := vmInitrd(t, dir, efivarfsKo)

	out := runOVMF(t, vars, disk, 300*time.Second, "EFI-VM-DONE|EFI-VM-FAILED",
		"-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0 panic=-1 loglevel=3")
	order := regexp.MustCompile(`EFI-VM-ORDER \[([0-9A-F]{4})`).FindStringSubmatch(out)
	if order == nil || strings.Contains(out, "EFI-VM-FAILED") {
		t.Fatalf("boot 1: Setup in the VM did not finish:\n%s", out)
	}
	ours := "Boot" + order[1]
	wantEntry := ours + ` "balenaOS" HD(1,GPT,` + vmPartGUID + `,0x800,0x10000)/\EFI\BOOT\bootx64.efi`
	if !strings.Contains(out, "EFI-VM-ENTRY "+wantEntry) ||
		strings.Count(out, `"balenaOS"`) != 1 || !strings.Contains(out, "deleted boot entry") {
		t.Fatalf("boot 1: want one balenaOS entry, %s, first in BootOrder, the second run "+
			"having deleted the first one's:\n%s", wantEntry, out)
	}
	if testing.Verbose() {
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "EFI-VM") || strings.Contains(line, "boot entry") {
				t.Logf("boot 1: %s", line)
			}
		}
	}

	out = runOVMF(t, vars, disk, 300*time.Second, `BdsDxe: starting Boot`)
	loading := regexp.MustCompile(`BdsDxe: loading (Boot[0-9A-F]{4}) "([^"]*)" from (\S+)`).
		FindStringSubmatch(out)
	if loading == nil || loading[1] != ours || loading[2] != "balenaOS" ||
		!strings.Contains(strings.ToUpper(loading[3]), strings.ToUpper(vmPartGUID)) {
		t.Fatalf("boot 2: the firmware first loaded %q, want %s \"balenaOS\" on partition %s:\n%s",
			loading, ours, vmPartGUID, out)
	}
	if testing.Verbose() {
		t.Logf("boot 2: %s", loading[0])
	}
}

// runOVMF runs QEMU with OVMF and the variable store vars until the
// console matches want (a regexp), QEMU exits or timeout passes, and
// returns the console.
func runOVMF(t *testing.T, vars, disk string, timeout time.Duration, want string,
	extra ...string) string {
	t.Helper()
	args := append([]string{"-accel", "tcg", "-m", "512", "-nodefaults", "-display", "none",
		"-no-reboot", "-serial", "stdio",
		"-drive", "if=pflash,format=raw,readonly=on,file=" + ovmfCode,
		"-drive", "if=pflash,format=raw,file=" + vars,
		"-drive", "if=none,id=d0,format=raw,file=" + disk, "-device", "nvme,drive=d0,serial=efi"},
		extra...)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	var mu sync.Mutex
	var buf bytes.Buffer
	cmd.Stdout = writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	})
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	re := regexp.MustCompile(want)
	for {
		select {
		case <-done:
			return buf.String()
		case <-time.After(500 * time.Millisecond):
		}
		mu.Lock()
		matched := re.Match(buf.Bytes())
		mu.Unlock()
		if matched {
			time.Sleep(2 * time.Second) // let the guest finish its lines and power off
			cmd.Process.Kill()
			<-done
			mu.Lock()
			defer mu.Unlock()
			return buf.String()
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// vmDisk builds a 64 MiB GPT disk whose partition 1 (LBA 2048, 32 MiB) is
// a FAT file system holding the kernel as \EFI\BOOT\bootx64.efi.
func vmDisk(t *testing.T, dir, kernel string) string {
	t.Helper()
	disk := filepath.Join(dir, "disk")
	if err := os.WriteFile(disk, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(disk, 64<<20); err != nil {
		t.Fatal(err)
	}
	run(t, "sgdisk", "-n", "1:2048:+32M", "-t", "1:ef00", "-c", "1:resin-boot",
		"-u", "1:"+vmPartGUID, disk)
	fat := filepath.Join(dir, "fat")
	run(t, "mkfs.vfat", "-C", "-n", "resin-boot", fat, "32768")
	run(t, "mmd", "-i", fat, "::/EFI", "::/EFI/BOOT")
	run(t, "mcopy", "-i", fat, kernel, "::/EFI/BOOT/bootx64.efi")
	b, err := os.ReadFile(fat)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(disk, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, 2048*512); err != nil {
		t.Fatal(err)
	}
	return disk
}

// vmInitrd packs testdata/vminit as /init and efivarfs.ko.
func vmInitrd(t *testing.T, dir, efivarfsKo string) string {
	t.Helper()
	init := filepath.Join(dir, "init")
	if err := vmtest.BuildInit("./testdata/vminit", init); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "initrd")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := cpio.NewWriter(f)
	for name, src := range map[string]string{"init": init, "efivarfs.ko": efivarfsKo} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteHeader(&cpio.Header{Name: name, Mode: 0o755, Size: int64(len(b))}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// vmKernel returns Debian's cloud kernel and its efivarfs module as
// scripts/fetch-kernel.sh unpacks them, or skips.
func vmKernel(t *testing.T) (vmlinuz, efivarfsKo string) {
	t.Helper()
	vmlinuz, modules, err := vmtest.FetchedKernel()
	if err != nil {
		t.Skip(err)
	}
	efivarfsKo = filepath.Join(modules, "kernel", "fs", "efivarfs", "efivarfs.ko")
	if _, err := os.Stat(efivarfsKo); err != nil {
		t.Skipf("the fetched kernel has no efivarfs module: %v", err)
	}
	return vmlinuz, efivarfsKo
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if b, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, b)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
