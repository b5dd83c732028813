package initramfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/takeover-dev/takeover/internal/vmtest"

	"github.com/takeover-dev/takeover/kmod"
	"github.com/takeover-dev/takeover/kmod/kmodtest"
	"github.com/takeover-dev/takeover/plan"
)

// TestVMSelftest boots Debian's cloud kernel under QEMU (TCG) with a payload
// and a device archive concatenated into one initrd. Its /init loads the
// modules the device plan lists (resolved by kmod.Resolve for a virtio disk
// like the VM's), waits for /dev/vda, and hashes the image against the
// payload plan. The verdict is read from the serial console.
func TestVMSelftest(t *testing.T) {
	if testing.Short() {
		t.Skip("QEMU test skipped in -short mode")
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	kernel, modulesDir, err := vmtest.FetchedKernel()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()

	initBin := filepath.Join(dir, "selftest")
	if err := vmtest.BuildInit("./testdata/selftest", initBin); err != nil {
		t.Fatal(err)
	}
	image, sum := randomImage(t, dir, 4<<20)
	initrd := filepath.Join(dir, "initrd.cpio")
	writeInitrd(t, initrd, initBin, image, sum, modulesDir)
	disk := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(disk, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(disk, 16<<20); err != nil {
		t.Fatal(err)
	}

	serial := filepath.Join(dir, "serial.log")
	args := []string{"-accel", "tcg", "-m", "512", "-nographic", "-no-reboot",
		"-kernel", kernel, "-initrd", initrd,
		"-append", "console=ttyS0 rdinit=/init panic=-1",
		"-drive", "file=" + disk + ",if=virtio,format=raw",
		"-serial", "file:" + serial, "-monitor", "none", "-display", "none"}
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	out, runErr := exec.CommandContext(ctx, qemu, args...).CombinedOutput()

	log, _ := os.ReadFile(serial)
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, "SELFTEST") {
			t.Log(strings.TrimSpace(line))
		}
	}
	want := "SELFTEST image sha256 ok " + sum
	if !strings.Contains(string(log), want) {
		t.Errorf("serial console lacks %q (qemu: %v)\ncommand: %s %s\nqemu output: %s\n"+
			"last serial lines:\n%s", want, runErr, qemu, strings.Join(args, " "), out,
			lastLines(string(log), 50))
	}
}

func randomImage(t *testing.T, dir string, size int) (string, string) {
	data := make([]byte, size)
	rand.New(rand.NewSource(42)).Read(data)
	name := writeFile(t, filepath.Join(dir, "balena.img"), data)
	sum := sha256.Sum256(data)
	return name, hex.EncodeToString(sum[:])
}

// writeInitrd writes the payload archive and the device archive, with the
// modules kmod.Resolve picks for a virtio disk and vfat, into one file.
func writeInitrd(t *testing.T, name, initBin, image, sum, modulesDir string) {
	sys := filepath.Join(t.TempDir(), "sys")
	kmodtest.BlockDevice(t, sys, "vda", kmodtest.VirtioDisk())
	mods, err := kmod.Resolve(kmod.ResolveOptions{SysRoot: sys, ModulesDir: modulesDir,
		Devices: []string{"vda"}, FileSystems: []string{"vfat"}})
	if err != nil {
		t.Fatalf("Resolve() error: %v", err)
	}

	fi, err := os.Stat(image)
	if err != nil {
		t.Fatal(err)
	}
	p := &plan.Payload{Version: plan.Version, CreatedBy: "vm_test", Arch: "amd64",
		Image: plan.Image{Path: plan.ImageDir + "/" + filepath.Base(image), Compression: "none",
			Size: fi.Size(), SHA256: sum, RawSize: fi.Size(), RawSHA256: sum, Table: "gpt"}}
	payload, err := PayloadEntries(PayloadInput{Init: initBin, Image: image, Plan: p})
	if err != nil {
		t.Fatalf("PayloadEntries() error: %v", err)
	}
	dev := &plan.Device{Version: plan.Version, KernelRelease: filepath.Base(modulesDir),
		Disk: plan.DiskIdentity{Name: "vda", SysfsPath: "/devices/pci0000:00/0000:00:04.0/virtio1/block/vda",
			Size: 16 << 20, LogicalSectorSize: 512}}
	device, err := DeviceEntries(modulesDir, mods, dev)
	if err != nil {
		t.Fatalf("DeviceEntries() error: %v", err)
	}

	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := WriteArchive(f, payload); err != nil {
		t.Fatalf("WriteArchive(payload) error: %v", err)
	}
	if err := WriteArchive(f, device); err != nil {
		t.Fatalf("WriteArchive(device) error: %v", err)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
