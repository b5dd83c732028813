package boot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/takeover-dev/takeover/plan"
)

// addPartition adds partition number n of disk to the fake sysfs, with the
// device number link /sys/dev/block/<devno> that mountinfo leads to.
func addPartition(t *testing.T, sys, disk, name, n, devno string) {
	t.Helper()
	diskDir, err := filepath.EvalSymlinks(filepath.Join(sys, "class", "block", disk))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(diskDir, name)
	write(t, filepath.Join(dir, "partition"), n+"\n")
	for _, l := range []string{filepath.Join(sys, "class", "block", name),
		filepath.Join(sys, "dev", "block", devno)} {
		if err := os.MkdirAll(filepath.Dir(l), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(dir, l); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
	}
}

// addDM adds a device-mapper device (an LVM volume, say) to the fake sysfs.
func addDM(t *testing.T, sys, name, devno string) {
	t.Helper()
	dir := filepath.Join(sys, "devices", "virtual", "block", name)
	write(t, filepath.Join(dir, "dm", "name"), "vg-root\n")
	for _, l := range []string{filepath.Join(sys, "class", "block", name),
		filepath.Join(sys, "dev", "block", devno)} {
		if err := os.MkdirAll(filepath.Dir(l), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(dir, l); err != nil {
			t.Fatal(err)
		}
	}
}

// mountinfo lines as the kernel writes them.
const (
	rootExt4Vda2 = "24 1 254:2 / / rw,relatime shared:1 - ext4 /dev/vda2 rw,errors=remount-ro\n"
	rootVfatVda2 = "24 1 254:2 / / rw,relatime - vfat /dev/vda2 rw\n"
	rootXFSVda2  = "24 1 254:2 / / rw,relatime - xfs /dev/vda2 rw\n"
	rootExt4Vdb1 = "24 1 254:17 / / rw,relatime - ext4 /dev/vdb1 rw\n"
	rootExt4DM   = "24 1 253:0 / / rw,relatime - ext4 /dev/mapper/vg-root rw\n"
	rootBtrfs    = "24 1 0:31 /@rootfs / rw,relatime - btrfs /dev/vda2 rw,subvol=/@rootfs\n"
	rootOverlay  = "30 24 0:40 / / rw - overlay overlay rw,lowerdir=/ro\n"
	procLine     = "25 24 0:22 / /proc rw,nosuid - proc proc rw\n"
)

func TestDevicePlanOldRoot(t *testing.T) {
	tests := []struct {
		name       string
		mountinfo  string // "" for none
		target     string
		wantPart   int    // 0 for no old root
		wantFS     string // with wantPart
		wantReason string // logged when there is no old root
	}{
		{name: "ext4 on the target disk", mountinfo: rootExt4Vda2 + procLine, target: "vda",
			wantPart: 2, wantFS: "ext4"},
		{name: "vfat on the target disk", mountinfo: rootVfatVda2, target: "vda",
			wantPart: 2, wantFS: "vfat"},
		{name: "xfs", mountinfo: rootXFSVda2, target: "vda",
			wantReason: "/ is xfs, stage2 mounts only"},
		{name: "btrfs subvolume", mountinfo: rootBtrfs, target: "vda",
			wantReason: "/ is btrfs"},
		{name: "overlay over ext4", mountinfo: rootExt4Vda2 + rootOverlay, target: "vda",
			wantReason: "/ is overlay"},
		{name: "ext4 mounted over an overlay", mountinfo: rootOverlay + rootExt4Vda2,
			target: "vda", wantPart: 2, wantFS: "ext4"},
		{name: "LVM", mountinfo: rootExt4DM, target: "vda",
			wantReason: "/ is on dm-0, not on a partition"},
		{name: "another disk", mountinfo: rootExt4Vdb1, target: "vda",
			wantReason: "/ is on vdb1, not on the disk being flashed (vda)"},
		{name: "no mount table", target: "vda", wantReason: "reading mount table"},
		{name: "no mount of /", mountinfo: procLine, target: "vda", wantReason: "no mount of /"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			addPartition(t, e.sys, "vda", "vda2", "2", "254:2")
			addPartition(t, e.sys, "vdb", "vdb1", "1", "254:17")
			addDM(t, e.sys, "dm-0", "253:0")
			if tc.mountinfo != "" {
				write(t, filepath.Join(e.proc, "self", "mountinfo"), tc.mountinfo)
			}
			dev, _, err := devicePlan(e.opts, &devices{target: tc.target}, release)
			if err != nil {
				t.Fatalf("devicePlan(%s) = %v", tc.name, err)
			}
			if tc.wantPart == 0 {
				checkNoOldRoot(t, e, dev, tc.wantReason)
				return
			}
			want := dev.Disk
			want.Partition, want.FSType = tc.wantPart, tc.wantFS
			if dev.OldRoot == nil || *dev.OldRoot != want {
				t.Errorf("devicePlan(%s).OldRoot = %+v, want %+v", tc.name, dev.OldRoot, want)
			}
		})
	}
}

func checkNoOldRoot(t *testing.T, e *env, dev *plan.Device, reason string) {
	t.Helper()
	if dev.OldRoot != nil {
		t.Errorf("devicePlan().OldRoot = %+v, want nil (%s)", dev.OldRoot, reason)
	}
	_, err := findOldRoot(e.opts, dev.Disk)
	if err == nil || !strings.Contains(err.Error(), reason) {
		t.Errorf("findOldRoot() = %v, want a reason with %q", err, reason)
	}
}

func FuzzParseRootMount(f *testing.F) {
	for _, s := range []string{rootExt4Vda2, rootBtrfs, procLine, "1 2 3 / /", "- - - - / -"} {
		f.Add(strings.TrimSpace(s))
	}
	f.Fuzz(func(t *testing.T, line string) {
		m, ok := parseRootMount(line)
		if !ok {
			return
		}
		fields := strings.Fields(line)
		if fields[4] != "/" || m.devno != fields[2] || m.fsType == "" {
			t.Errorf("parseRootMount(%q) = %+v, want devno %s and a file system of /",
				line, m, fields[2])
		}
	})
}
