package boot

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/sirupsen/logrus/hooks/test"
	"github.com/takeover-dev/takeover/initramfs"
	"github.com/takeover-dev/takeover/kmod/kmodtest"
	"github.com/takeover-dev/takeover/plan"
)

const release = "6.1.0-57-cloud-amd64"

// modulesDep is a small modules.dep: virtio as modules, file systems built in.
var modulesDep = map[string][]string{
	"kernel/drivers/virtio/virtio_ring.ko": nil,
	"kernel/drivers/virtio/virtio.ko":      {"kernel/drivers/virtio/virtio_ring.ko"},
	"kernel/drivers/virtio/virtio_pci.ko": {"kernel/drivers/virtio/virtio.ko",
		"kernel/drivers/virtio/virtio_ring.ko"},
	"kernel/drivers/block/virtio_blk.ko": {"kernel/drivers/virtio/virtio.ko",
		"kernel/drivers/virtio/virtio_ring.ko"},
}

var builtins = []string{"kernel/fs/fat/fat.ko", "kernel/fs/fat/vfat.ko",
	"kernel/fs/ext4/ext4.ko", "kernel/crypto/crc32c_generic.ko",
	"kernel/fs/nls/nls_cp437.ko", "kernel/fs/nls/nls_ascii.ko", "kernel/fs/nls/nls_utf8.ko"}

// virtioDisk is a virtio-blk disk at PCI slot slot, as QEMU gives.
func virtioDisk(slot, virtio string) []kmodtest.Level {
	l := kmodtest.VirtioDisk()
	l[1].Dir = "pci0000:00/0000:00:" + slot
	l[2].Dir = l[1].Dir + "/" + virtio
	return l
}

// env is a fake machine: root file system, sysfs, procfs and a payload.
type env struct {
	root, sys, proc, work string
	opts                  Options
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// identity writes what blockdev.Identify reads for a disk.
func identity(t *testing.T, sys, name string, sectors int) {
	dir := filepath.Join(sys, "class", "block", name)
	write(t, filepath.Join(dir, "size"), strconv.Itoa(sectors)+"\n")
	write(t, filepath.Join(dir, "queue", "logical_block_size"), "512\n")
	write(t, filepath.Join(dir, "device", "serial"), "serial-"+name+"\n")
}

// fakeBzImage is a bzImage setup header naming its version string.
func fakeBzImage(version string) string {
	img := make([]byte, 0x1000)
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(img[0x20e:], 0x200)
	copy(img[0x400:], version+"\x00")
	return string(img)
}

func newEnv(t *testing.T) *env {
	e := &env{root: t.TempDir(), sys: t.TempDir(), proc: t.TempDir(), work: t.TempDir()}
	if magic, _, err := statfs(e.work); err != nil || refuseRAM(e.work, magic) != nil {
		t.Skipf("the test's temporary directory is in RAM or unreadable (%v); boot refuses it", err)
	}
	kmodtest.BlockDevice(t, e.sys, "vda", virtioDisk("04.0", "virtio1"))
	identity(t, e.sys, "vda", 2097152)
	kmodtest.BlockDevice(t, e.sys, "vdb", virtioDisk("05.0", "virtio2"), "vdb1")
	identity(t, e.sys, "vdb", 131072)
	write(t, filepath.Join(e.sys, "class", "block", "vdb1", "partition"), "1\n")
	kmodtest.ModulesDir(t, filepath.Join(e.root, "lib", "modules", release), modulesDep,
		builtins, nil)

	write(t, filepath.Join(e.root, "boot", "vmlinuz-"+release),
		fakeBzImage(release+" (debian-kernel@lists.debian.org) #1 SMP"))
	write(t, filepath.Join(e.proc, "version"), "Linux version "+release+" (x) #1 SMP\n")
	write(t, filepath.Join(e.proc, "cmdline"),
		"BOOT_IMAGE=/boot/vmlinuz-"+release+" root=UUID=1234 ro console=ttyS0,115200 quiet\n")
	write(t, filepath.Join(e.proc, "meminfo"),
		"MemTotal:        2048000 kB\nMemAvailable:    1500000 kB\n")

	log, _ := test.NewNullLogger()
	e.opts = Options{Initrd: e.payload(t), WorkDir: e.work, Root: e.root, SysRoot: e.sys,
		ProcRoot: e.proc, Log: log}.withDefaults()
	return e
}

// payload writes a small payload archive whose size is not a multiple of
// 512, as a foreign build-initrd might leave it.
func (e *env) payload(t *testing.T) string {
	var buf bytes.Buffer
	err := initramfs.WriteArchive(&buf, []initramfs.Entry{
		{Path: "/init", Mode: 0o755, Data: []byte("#!stage2\n")},
		{Path: plan.ConfigJSONPath, Mode: 0o600, Data: []byte(`{"secret":1}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	b := bytes.TrimRight(buf.Bytes(), "\x00")
	b = append(b, 0, 0, 0) // to a 4-byte boundary, not 512
	path := filepath.Join(t.TempDir(), "payload.cpio")
	write(t, path, string(b))
	return path
}

// logFS is the head of an ext4 file system: the superblock magic at 1080
// and the extents feature.
func logFS() *bytes.Reader {
	b := make([]byte, 4096)
	binary.LittleEndian.PutUint16(b[1024+56:], 0xef53)
	binary.LittleEndian.PutUint32(b[1024+92:], 0x4)  // has_journal
	binary.LittleEndian.PutUint32(b[1024+96:], 0x40) // extents
	return bytes.NewReader(b)
}

func TestPrepare(t *testing.T) {
	e := newEnv(t)
	devs := &devices{target: "vda", log: "vdb1", logFS: logFS()}
	p, err := prepare(e.opts, devs)
	if err != nil {
		t.Fatalf("prepare(fake machine) = %v", err)
	}
	defer p.cleanup(e.opts.Log)

	if want := filepath.Join(e.root, "boot", "vmlinuz-"+release); p.kernel != want {
		t.Errorf("prepare(fake machine) kernel = %s, want %s", p.kernel, want)
	}
	if want := "console=ttyS0,115200 loglevel=4 rdinit=/init panic=10"; p.cmdline != want {
		t.Errorf("prepare(fake machine) cmdline = %q, want %q", p.cmdline, want)
	}
	st, err := os.Stat(p.initrd)
	if err != nil || st.Mode().Perm() != 0o600 || filepath.Dir(p.initrd) != e.work {
		t.Fatalf("combined initramfs %s: %v, %v, want mode 0600 in %s", p.initrd, st, err, e.work)
	}
	checkInitrd(t, e, p.initrd)
}

// checkInitrd reads the combined initramfs back as the kernel would: the
// payload's bytes first, then a device archive with the modules and plan.
func checkInitrd(t *testing.T, e *env, path string) {
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := os.ReadFile(e.opts.Initrd)
	if !bytes.HasPrefix(got, payload) {
		t.Fatalf("combined initramfs does not start with the payload's %d bytes", len(payload))
	}
	l, err := initramfs.Inspect(bytes.NewReader(got), int64(len(got)))
	if err != nil || len(l.Problems) > 0 {
		t.Fatalf("Inspect(combined initramfs) = %v, problems %v", err, l.Problems)
	}
	if len(l.Segments) != 2 || l.Device == nil {
		t.Fatalf("Inspect(combined initramfs) = %d archives, device plan %v; want 2 and a plan",
			len(l.Segments), l.Device)
	}
	d := l.Device
	wantMods := []string{
		plan.ModulesDir + "/kernel/drivers/virtio/virtio_ring.ko",
		plan.ModulesDir + "/kernel/drivers/virtio/virtio.ko",
		plan.ModulesDir + "/kernel/drivers/virtio/virtio_pci.ko",
		plan.ModulesDir + "/kernel/drivers/block/virtio_blk.ko",
	}
	if d.KernelRelease != release || d.Disk.Name != "vda" || d.Disk.Size != 2097152*512 ||
		!reflect.DeepEqual(d.Modules, wantMods) {
		t.Errorf("device plan = %+v, want release %s, disk vda of 1 GiB, modules %v", d, release,
			wantMods)
	}
	if d.LogDevice == nil || d.LogDevice.Name != "vdb" || d.LogDevice.Partition != 1 ||
		d.LogDevice.FSType != "ext4" {
		t.Errorf("device plan log device = %+v, want vdb partition 1, ext4", d.LogDevice)
	}
	have := map[string]bool{}
	for _, m := range l.Members {
		have[m.Name] = true
	}
	for _, name := range append(wantMods, "/init", plan.ConfigJSONPath) {
		if !have[name] {
			t.Errorf("combined initramfs lacks %s", name)
		}
	}
}

func TestPrepareRefuses(t *testing.T) {
	tests := []struct {
		name    string
		devs    devices
		change  func(t *testing.T, e *env)
		wantErr string
	}{
		{name: "partition as target", devs: devices{target: "vdb1"},
			wantErr: "vdb1 is partition 1"},
		{name: "log on the target disk", devs: devices{target: "vdb", log: "vdb1", logFS: logFS()},
			wantErr: "vdb1 is on vdb, the disk being flashed"},
		{name: "log without a usable file system",
			devs:    devices{target: "vda", log: "vdb1", logFS: bytes.NewReader(make([]byte, 4096))},
			wantErr: `holds "", stage2 writes only vfat, ext3 or ext4`},
		{name: "running kernel image missing", devs: devices{target: "vda"},
			change: func(t *testing.T, e *env) {
				os.Remove(filepath.Join(e.root, "boot", "vmlinuz-"+release))
			},
			wantErr: "pass its path with --kernel"},
		{name: "compressed payload", devs: devices{target: "vda"},
			change: func(t *testing.T, e *env) {
				write(t, e.opts.Initrd, "\x1f\x8b\x08\x00 compressed")
			},
			wantErr: "not an uncompressed newc cpio archive"},
		{name: "too little memory", devs: devices{target: "vda"},
			change: func(t *testing.T, e *env) {
				write(t, filepath.Join(e.proc, "meminfo"),
					"MemTotal: 131072 kB\nMemAvailable: 100000 kB\n")
			},
			wantErr: "stop services to free memory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.change != nil {
				tc.change(t, e)
			}
			p, err := prepare(e.opts, &tc.devs)
			if p != nil {
				p.cleanup(e.opts.Log)
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("prepare(%s) = %v, want error %q", tc.name, err, tc.wantErr)
			}
			if left, _ := os.ReadDir(e.work); len(left) != 0 {
				t.Fatalf("prepare(%s) left %d files in the work directory", tc.name, len(left))
			}
		})
	}
}

func TestRefuseRAM(t *testing.T) {
	tests := []struct {
		magic   int64
		refused bool
	}{
		{magic: tmpfsMagic, refused: true},
		{magic: ramfsMagic, refused: true},
		{magic: 0xef53, refused: false},     // ext4
		{magic: 0x9123683e, refused: false}, // btrfs
	}
	for _, tc := range tests {
		if err := refuseRAM("/w", tc.magic); (err != nil) != tc.refused {
			t.Errorf("refuseRAM(%#x) = %v, want refused %v", tc.magic, err, tc.refused)
		}
	}
}

func TestCheckWorkDirRefusesShm(t *testing.T) {
	magic, _, err := statfs("/dev/shm")
	if err != nil || magic != tmpfsMagic {
		t.Skipf("/dev/shm is not a tmpfs here (%v)", err)
	}
	err = checkWorkDir("/dev/shm", 1)
	if err == nil || !strings.Contains(err.Error(), "--work-dir") {
		t.Fatalf("checkWorkDir(/dev/shm) = %v, want a refusal naming --work-dir", err)
	}
}

func TestCheckWorkDirNeedsRoom(t *testing.T) {
	dir := t.TempDir()
	if magic, _, err := statfs(dir); err != nil || refuseRAM(dir, magic) != nil {
		t.Skipf("temporary directory unusable for this test (%v)", err)
	}
	err := checkWorkDir(dir, 1<<62)
	if err == nil || !strings.Contains(err.Error(), "free space") {
		t.Fatalf("checkWorkDir(%s, 4 EiB) = %v, want a refusal for room", dir, err)
	}
}

func TestConcatPadsAndAppends(t *testing.T) {
	dir := t.TempDir()
	payload := filepath.Join(dir, "payload")
	write(t, payload, "070701abc")
	in, err := os.Open(payload)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	err = concat(out, in, 9, func(w io.Writer) error {
		_, err := w.Write([]byte("DEVICE"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out.Name())
	want := append(append([]byte("070701abc"), make([]byte, 503)...), "DEVICE"...)
	if !bytes.Equal(got, want) {
		t.Fatalf("concat(9-byte payload, DEVICE) = %d bytes %q..., want %d bytes", len(got),
			got[:12], len(want))
	}
}

func TestFileSystemsAddsEfivarfsOnEFI(t *testing.T) {
	sys := t.TempDir()
	if got := fileSystems(sys); strings.Join(got, ",") != "vfat,ext4" {
		t.Errorf("fileSystems(BIOS) = %v, want [vfat ext4]", got)
	}
	if err := os.MkdirAll(filepath.Join(sys, "firmware/efi"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := fileSystems(sys); strings.Join(got, ",") != "vfat,ext4,efivarfs" {
		t.Errorf("fileSystems(EFI) = %v, want [vfat ext4 efivarfs]", got)
	}
}
