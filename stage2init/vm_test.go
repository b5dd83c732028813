package stage2init

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/takeover-dev/takeover/initramfs"
	"github.com/takeover-dev/takeover/internal/vmtest"
	"github.com/takeover-dev/takeover/kmod"
	"github.com/takeover-dev/takeover/plan"
)

// Layout of the VM test's image: an MBR disk with a FAT boot partition and
// an ext4 data partition, as balenaOS has them (fewer and smaller).
const (
	vmImageSize = 48 << 20
	vmDiskSize  = 64 << 20
	vmBootStart = 4 << 20
	vmBootSize  = 16 << 20
	vmDataStart = 20 << 20
	vmDataSize  = 24 << 20
	vmSerial    = "TKO-STAGE2"
)

// TestVMStage2 boots Debian's cloud kernel under QEMU (TCG) with stage2 as
// /init and a gzip image in the initramfs, and checks on the serial
// console and on the disk afterwards that stage2 flashed and verified the
// image, wrote config.json, a keyfile and the backup into the new
// partitions, saved its log in the data partition and rebooted.
func TestVMStage2(t *testing.T) {
	if testing.Short() {
		t.Skip("QEMU test skipped in -short mode")
	}
	if why := vmtest.Available(); why != "" {
		t.Skip(why)
	}
	for _, tool := range []string{"sfdisk", "mkfs.vfat", "mkfs.ext4", "mtype", "debugfs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	kernel, modulesDir := fetchedKernel(t)
	dir := t.TempDir()
	raw := vmImage(t, dir)
	initrd := vmInitrd(t, dir, raw, modulesDir)
	disk := filepath.Join(dir, "disk")
	writeTestFile(t, disk, bytes.Repeat([]byte{junkByte}, vmDiskSize))

	vm, err := vmtest.Start(vmtest.Config{Kernel: kernel, Initrd: initrd, MemoryMB: 512,
		Append:    "console=ttyS0 panic=-1 loglevel=4",
		Disks:     []vmtest.Disk{{Path: disk, Interface: "nvme", Serial: vmSerial}},
		SerialLog: filepath.Join(dir, "serial.log")})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Kill()
	ctx := context.Background()
	marker, line, err := vm.WaitForAny(ctx, 300*time.Second, markerDone, markerFailed)
	if err != nil || marker != markerDone {
		t.Fatalf("stage2 in the VM: %v %s\n%s\nqemu: %s", err, line, vm.Report(), vm.CommandLine())
	}
	if err := vm.Wait(60 * time.Second); err != nil {
		t.Fatalf("VM did not reboot (QEMU runs -no-reboot): %v\n%s", err, vm.Report())
	}
	for _, m := range []string{markerStart + " pid=1", markerFlashed,
		markerVerified + " sha256=" + digest(raw)} {
		if _, ok := vm.Find(m); !ok {
			t.Errorf("console lacks %q\n%s", m, vm.Report())
		}
	}
	checkVMDisk(t, disk, raw)
	if testing.Verbose() {
		t.Log(strings.Join(vm.Output(), "\n"))
	}
}

func checkVMDisk(t *testing.T, disk string, raw []byte) {
	t.Helper()
	got, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:vmBootStart], raw[:vmBootStart]) {
		t.Error("the disk's first 4 MiB (MBR and gap) differ from the image")
	}
	if got[vmImageSize] != junkByte {
		t.Error("the disk was written past the image's end")
	}
	files := []struct {
		read func(string, int64, string) ([]byte, error)
		off  int64
		name string
		want string
	}{
		{vmtest.ReadVFAT, vmBootStart, "config.json", `{"uuid":"vm"}`},
		{vmtest.ReadVFAT, vmBootStart, "system-connections/balena-01", "[connection]\n"},
		{vmtest.ReadExt4, vmDataStart, "backup.tgz", "backup"},
		{vmtest.ReadExt4, vmDataStart, "takeover/stage2.log", markerDone},
	}
	for _, f := range files {
		b, err := f.read(disk, f.off, f.name)
		if err != nil || !strings.Contains(string(b), f.want) {
			t.Errorf("%s on the flashed disk = %q, %v, want %q", f.name, b, err, f.want)
		}
	}
}

// vmImage builds the raw image: MBR, FAT boot, ext4 data, the rest random.
func vmImage(t *testing.T, dir string) []byte {
	t.Helper()
	img := make([]byte, vmImageSize)
	rand.New(rand.NewSource(4)).Read(img)
	imgPath := filepath.Join(dir, "image.raw")
	writeTestFile(t, imgPath, img)
	runTool(t, "sfdisk", strings.NewReader(fmtTable()), "--no-reread", "--no-tell-kernel", imgPath)
	fs := []struct {
		off, size int64
		mkfs      []string
	}{
		{vmBootStart, vmBootSize, []string{"mkfs.vfat", "-n", "resin-boot"}},
		{vmDataStart, vmDataSize, []string{"mkfs.ext4", "-q", "-L", "resin-data"}},
	}
	img, err := os.ReadFile(imgPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		p := filepath.Join(dir, "part")
		writeTestFile(t, p, make([]byte, f.size))
		runTool(t, f.mkfs[0], nil, append(f.mkfs[1:], p)...)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		copy(img[f.off:], b)
	}
	return img
}

func fmtTable() string {
	return fmt.Sprintf("label: dos\nstart=%d, size=%d, type=c\nstart=%d, size=%d, type=83\n",
		vmBootStart/512, vmBootSize/512, vmDataStart/512, vmDataSize/512)
}

// vmInitrd writes the payload archive and the device archive, concatenated
// as boot does, and returns the initrd's path.
func vmInitrd(t *testing.T, dir string, raw []byte, modulesDir string) string {
	t.Helper()
	gz := filepath.Join(dir, "balena.img.gz")
	writeTestFile(t, gz, gzipped(t, raw))
	size, sum := fileDigest(t, gz)
	src := func(name, content string) string {
		p := filepath.Join(dir, name)
		writeTestFile(t, p, []byte(content))
		return p
	}
	p := &plan.Payload{Version: plan.Version, Arch: "amd64",
		Image: plan.Image{Path: path.Join(plan.ImageDir, "balena.img.gz"), Compression: "gzip",
			Size: size, SHA256: sum, RawSize: vmImageSize, RawSHA256: digest(raw), Table: "mbr",
			Partitions: []plan.Partition{
				{Name: "resin-boot", Number: 1, Start: vmBootStart, Size: vmBootSize, FSType: "vfat"},
				{Name: "resin-data", Number: 2, Start: vmDataStart, Size: vmDataSize, FSType: "ext4"},
			}},
		Files: []plan.File{
			{Source: plan.ConfigJSONPath, Partition: "resin-boot", Target: "config.json", Mode: 0o600},
			{Source: path.Join(plan.ConnectionsDir, "balena-01"), Partition: "resin-boot",
				Target: "system-connections/balena-01", Mode: 0o600},
			{Source: plan.BackupPath, Partition: "resin-data", Target: "backup.tgz", Mode: 0o600},
		},
		Log: plan.Log{Level: "info", FallbackDir: "takeover", FallbackFilename: "stage2.log"},
	}
	payload, err := initramfs.PayloadEntries(initramfs.PayloadInput{Init: buildVMInit(t, dir),
		Image: gz, ConfigJSON: src("config.json", `{"uuid":"vm"}`),
		Connections: []string{src("balena-01", "[connection]\n")},
		Backup:      src("backup.tgz", "backup"), Plan: p})
	if err != nil {
		t.Fatal(err)
	}
	mods, err := kmod.Resolve(kmod.ResolveOptions{SysRoot: t.TempDir(), ModulesDir: modulesDir,
		FileSystems: []string{"vfat", "ext4"}})
	if err != nil {
		t.Fatal(err)
	}
	// The path is a guess the identity check must see past: the serial and
	// size match, so stage2 accepts the disk wherever QEMU put it.
	dev := &plan.Device{Version: plan.Version, Disk: plan.DiskIdentity{Name: "nvme0n1",
		SysfsPath: "/devices/pci0000:00/0000:00:09.0/nvme/nvme0/nvme0n1", Size: vmDiskSize,
		LogicalSectorSize: 512, Serial: vmSerial}}
	device, err := initramfs.DeviceEntries(modulesDir, mods, dev)
	if err != nil {
		t.Fatal(err)
	}
	initrd := filepath.Join(dir, "initrd")
	f, err := os.Create(initrd)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, entries := range [][]initramfs.Entry{payload, device} {
		if err := initramfs.WriteArchive(f, entries); err != nil {
			t.Fatal(err)
		}
	}
	return initrd
}

func buildVMInit(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "init")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./testdata/vminit")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the test init: %v\n%s", err, b)
	}
	return out
}

// fetchedKernel returns the cloud kernel and its modules directory as
// scripts/fetch-kernel.sh unpacks them, or skips.
func fetchedKernel(t *testing.T) (vmlinuz, modulesDir string) {
	t.Helper()
	cache := os.Getenv("TAKEOVER_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "takeover")
	}
	kernels, _ := filepath.Glob(filepath.Join(cache, "linux-image-*", "boot", "vmlinuz-*"))
	deps, _ := filepath.Glob(filepath.Join(cache, "linux-image-*", "lib", "modules", "*",
		"modules.dep"))
	if len(kernels) == 0 || len(deps) == 0 {
		t.Skipf("no kernel in %s: run scripts/fetch-kernel.sh %s", cache, cache)
	}
	return kernels[0], filepath.Dir(deps[0])
}

func writeTestFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func runTool(t *testing.T, name string, stdin *strings.Reader, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}
