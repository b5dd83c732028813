//go:build e2e

package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/takeover-dev/takeover/internal/vmtest"
)

// vfatModules are what the cloud kernel needs to mount the boot partition
// (vfat is a module there), in load order.
var vfatModules = []string{
	"kernel/fs/fat/fat.ko", "kernel/fs/fat/vfat.ko", "kernel/fs/nls/nls_cp437.ko",
	"kernel/fs/nls/nls_ascii.ko", "kernel/fs/nls/nls_utf8.ko",
}

// newOSInit loads the vfat modules, then hands over to the flashed disk's
// rootA (nvme, built into the cloud kernel), whose own init prints the
// synthetic balenaOS markers.
const newOSInit = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /newroot
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs devtmpfs /dev
for m in /modules/*.ko; do /bin/busybox insmod "$m" || echo "NEWOS-INITRD-INSMOD-FAILED $m"; done
for i in $(/bin/busybox seq 1 50); do [ -b /dev/nvme0n1p2 ] && break; /bin/busybox sleep 0.2; done
if ! /bin/busybox mount -t ext4 -o ro /dev/nvme0n1p2 /newroot; then
  echo "NEWOS-INITRD-NO-ROOTA"; /bin/busybox poweroff -f
fi
/bin/busybox umount /proc /dev
exec /bin/busybox switch_root /newroot /sbin/init
`

// newOSInitrd builds the tiny initramfs (busybox, the vfat modules taken
// from the old OS disk so they match its kernel, and newOSInit).
func newOSInitrd(t *testing.T, o oldOS) string {
	t.Helper()
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "bin"), 0o755))
	must(t, os.MkdirAll(filepath.Join(root, "modules"), 0o755))
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("static busybox is missing (apt-get install busybox-static): %v", err)
	}
	must(t, os.WriteFile(filepath.Join(root, "bin", "busybox"), bb, 0o755))
	must(t, os.WriteFile(filepath.Join(root, "init"), []byte(newOSInit), 0o755))
	for i, m := range vfatModules {
		data, err := vmtest.ReadExt4(o.Disk, rootPartitionOffset, "/lib/modules/"+o.Release+"/"+m)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(root, "modules", string(rune('0'+i))+"-"+filepath.Base(m))
		must(t, os.WriteFile(name, data, 0o644))
	}
	out := filepath.Join(t.TempDir(), "newos-initrd.cpio")
	cmd := exec.Command("sh", "-c", "find . | cpio -o -H newc --quiet > "+out)
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("packing the new OS initrd: %v: %s", err, msg)
	}
	return out
}

// bootNewOS boots a flashed disk as NVMe and returns the VM once the
// synthetic balenaOS powered off, after checking its marker.
func bootNewOS(t *testing.T, o oldOS, disk, marker string) *vmtest.VM {
	t.Helper()
	vm := startVM(t, "newos", vmtest.Config{
		Kernel:   o.Kernel,
		Initrd:   newOSInitrd(t, o),
		Append:   "console=ttyS0 panic=-1 rdinit=/init",
		MemoryMB: 512,
		Disks:    []vmtest.Disk{{Path: disk, Interface: "nvme"}},
	})
	expect(t, vm, "SYNTHETIC-BALENAOS-BOOTED marker="+marker, newOSTimeout,
		"NEWOS-INITRD-NO-ROOTA", "Kernel panic")
	if err := vm.Wait(newOSTimeout); err != nil {
		t.Fatalf("new OS did not power off: %v", err)
	}
	return vm
}

// TestNewOSBootsSyntheticImage proves the second half of every scenario on
// an image written by the host alone: the synthetic image boots as NVMe and
// reports its boot partition's config.json digest.
func TestNewOSBootsSyntheticImage(t *testing.T) {
	requireVM(t)
	timed(t)
	o := getOldOS(t)
	marker := randomHex(t, 6)
	img := syntheticImage(t, "mbr", marker)
	disk := filepath.Join(t.TempDir(), "flashed.img")
	raw := gunzipFile(t, img.Path)
	must(t, vmtest.CopySparse(raw, disk))

	config := []byte(`{"hostname":"written-by-host"}` + "\n")
	boot := img.partition(t, "resin-boot")
	cmd := exec.Command("mcopy", "-o", "-i", disk+"@@"+itoa(boot.Start), "-", "::/config.json")
	cmd.Stdin = bytes.NewReader(config)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mcopy config.json: %v: %s", err, out)
	}

	vm := bootNewOS(t, o, disk, marker)
	checkConfigDigest(t, vm, config)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
