package blockdev

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/takeover-dev/takeover/plan"
)

// fakeSys builds a sysfs tree in a temporary directory.
type fakeSys struct {
	t    *testing.T
	root string
}

func newFakeSys(t *testing.T) *fakeSys {
	return &fakeSys{t: t, root: t.TempDir()}
}

// dev creates device directory devpath with attrs, links it from
// /sys/class/block/<base> and, if devno is set, from /sys/dev/block.
func (f *fakeSys) dev(devpath, devno string, attrs map[string]string) {
	f.t.Helper()
	dir := filepath.Join(f.root, devpath)
	for name, val := range attrs {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(val+"\n"), 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
	f.link(filepath.Join("class", "block", filepath.Base(devpath)), devpath)
	if devno != "" {
		f.link(filepath.Join("dev", "block", devno), devpath)
	}
}

func (f *fakeSys) link(at, devpath string) {
	f.t.Helper()
	p := filepath.Join(f.root, at)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	rel, err := filepath.Rel(filepath.Dir(p), filepath.Join(f.root, devpath))
	if err != nil {
		f.t.Fatal(err)
	}
	if err := os.Symlink(rel, p); err != nil {
		f.t.Fatal(err)
	}
}

const vdaPath = "/devices/pci0000:00/0000:00:04.0/virtio1/block/vda"

func (f *fakeSys) vda() {
	f.dev(vdaPath, "254:0", map[string]string{
		"size": "2097152", "queue/logical_block_size": "512", "serial": "disk-1",
	})
	f.dev(vdaPath+"/vda1", "254:1", map[string]string{
		"partition": "1", "start": "8192", "size": "81920",
	})
	f.dev(vdaPath+"/vda2", "254:2", map[string]string{
		"partition": "2", "start": "90112", "size": "655360",
	})
}

func (f *fakeSys) nvme() {
	f.dev("/devices/pci0000:00/0000:00:05.0/nvme/nvme0/nvme0n1", "259:0", map[string]string{
		"size": "4194304", "queue/logical_block_size": "4096", "wwid": "eui.0011",
		"device/serial": "  NV-7  ", "device/model": "QEMU NVMe Ctrl  ",
	})
}

func TestIdentify(t *testing.T) {
	f := newFakeSys(t)
	f.vda()
	f.nvme()
	tests := []struct {
		name string
		want plan.DiskIdentity
	}{
		{name: "vda", want: plan.DiskIdentity{Name: "vda", SysfsPath: vdaPath,
			Size: 1 << 30, LogicalSectorSize: 512, Serial: "disk-1"}},
		{name: "nvme0n1", want: plan.DiskIdentity{Name: "nvme0n1",
			SysfsPath: "/devices/pci0000:00/0000:00:05.0/nvme/nvme0/nvme0n1",
			Size:      2 << 30, LogicalSectorSize: 4096, Serial: "NV-7", WWN: "eui.0011",
			Model: "QEMU NVMe Ctrl"}},
	}
	for _, tt := range tests {
		got, err := Identify(f.root, tt.name)
		if err != nil {
			t.Fatalf("Identify(%q) error: %v", tt.name, err)
		}
		if got != tt.want {
			t.Errorf("Identify(%q) = %+v, want %+v", tt.name, got, tt.want)
		}
	}
	if _, err := Identify(f.root, "sdz"); err == nil {
		t.Error("Identify(sdz) of a missing device succeeded")
	}
}

func TestMatch(t *testing.T) {
	base := plan.DiskIdentity{Name: "vda", SysfsPath: "/devices/a/vda", Size: 1 << 30,
		LogicalSectorSize: 512, Serial: "S1", Model: "M"}
	with := func(f func(*plan.DiskIdentity)) plan.DiskIdentity {
		d := base
		f(&d)
		return d
	}
	tests := []struct {
		name      string
		want, got plan.DiskIdentity
		wantErr   []string // substrings; nil means a match
		moved     bool
	}{
		{name: "same", want: base, got: base},
		{name: "renamed", want: base, got: with(func(d *plan.DiskIdentity) { d.Name = "vdb" })},
		{name: "size", want: base, got: with(func(d *plan.DiskIdentity) { d.Size++ }),
			wantErr: []string{"size"}},
		{name: "sector and serial", want: base, got: with(func(d *plan.DiskIdentity) {
			d.LogicalSectorSize = 4096
			d.Serial = "S2"
		}), wantErr: []string{"logical sector size 4096, want 512", `serial "S2", want "S1"`}},
		{name: "moved with serial", want: base, moved: true,
			got: with(func(d *plan.DiskIdentity) { d.SysfsPath = "/devices/b/vda" })},
		{name: "moved without serial",
			want:    with(func(d *plan.DiskIdentity) { d.Serial = "" }),
			got:     with(func(d *plan.DiskIdentity) { d.Serial = ""; d.SysfsPath = "/devices/b/vda" }),
			wantErr: []string{"sysfs path"}},
		{name: "moved and resized", want: base, got: with(func(d *plan.DiskIdentity) {
			d.SysfsPath = "/devices/b/vda"
			d.Size = 5
		}), wantErr: []string{"size 5", "sysfs path"}},
		{name: "model unknown in want",
			want: with(func(d *plan.DiskIdentity) { d.Model = "" }), got: base},
		{name: "wwn lost", want: with(func(d *plan.DiskIdentity) { d.WWN = "w" }), got: base,
			wantErr: []string{"wwn"}},
	}
	for _, tt := range tests {
		err := Match(tt.want, tt.got)
		if (err != nil) != (tt.wantErr != nil) {
			t.Errorf("%s: Match = %v, want error %v", tt.name, err, tt.wantErr)
			continue
		}
		for _, s := range tt.wantErr {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: Match = %v, want it to name %q", tt.name, err, s)
			}
		}
		if got := PathMoved(tt.want, tt.got); got != tt.moved {
			t.Errorf("%s: PathMoved = %v, want %v", tt.name, got, tt.moved)
		}
	}
}

func TestFind(t *testing.T) {
	f := newFakeSys(t)
	f.vda()
	f.nvme()
	want, err := Identify(f.root, "nvme0n1")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Find(f.root, want); err != nil || got != "nvme0n1" {
		t.Errorf("Find(nvme identity) = %q, %v, want nvme0n1", got, err)
	}
	want.Size = 12345
	_, err = Find(f.root, want)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "size 2147483648, want 12345") {
		t.Errorf("Find(wrong size) = %v, want ErrNotFound naming the size", err)
	}
}

func TestFindAmbiguous(t *testing.T) {
	f := newFakeSys(t)
	attrs := map[string]string{"size": "100", "queue/logical_block_size": "512"}
	f.dev("/devices/x/block/sda", "", attrs)
	want, err := Identify(f.root, "sda")
	if err != nil {
		t.Fatal(err)
	}
	// A second disk at another path with no serial does not match (path
	// differs and nothing unique vouches for it); with equal serials both match.
	f.dev("/devices/y/block/sdb", "", attrs)
	if got, err := Find(f.root, want); err != nil || got != "sda" {
		t.Errorf("Find = %q, %v, want sda", got, err)
	}
	attrs["serial"] = "dup"
	g := newFakeSys(t)
	g.dev("/devices/x/block/sda", "", attrs)
	g.dev("/devices/y/block/sdb", "", attrs)
	want.Serial = "dup"
	if _, err := Find(g.root, want); err == nil || !strings.Contains(err.Error(), "2 disks match") {
		t.Errorf("Find(two disks with one serial) = %v, want an ambiguity error", err)
	}
}

func TestWaitFind(t *testing.T) {
	f := newFakeSys(t)
	f.vda()
	want, err := Identify(f.root, "vda")
	if err != nil {
		t.Fatal(err)
	}
	want.Serial = "late"
	want.SysfsPath = "/devices/late/block/vdb"
	go func() {
		time.Sleep(300 * time.Millisecond)
		f.dev("/devices/late/block/vdb", "", map[string]string{
			"size": "2097152", "queue/logical_block_size": "512", "serial": "late"})
	}()
	got, err := WaitFind(context.Background(), f.root, want, 5*time.Second)
	if err != nil || got != "vdb" {
		t.Errorf("WaitFind(late disk) = %q, %v, want vdb", got, err)
	}
	want.Serial = "never"
	start := time.Now()
	_, err = WaitFind(context.Background(), f.root, want, 300*time.Millisecond)
	if !errors.Is(err, ErrNotFound) || time.Since(start) > 3*time.Second {
		t.Errorf("WaitFind(absent disk) = %v after %s, want ErrNotFound soon", err,
			time.Since(start))
	}
}

func TestPartitions(t *testing.T) {
	f := newFakeSys(t)
	f.vda()
	got, err := Partitions(f.root, "vda")
	if err != nil {
		t.Fatal(err)
	}
	want := []Part{
		{Name: "vda1", Number: 1, Start: 8192 * 512, Size: 81920 * 512},
		{Name: "vda2", Number: 2, Start: 90112 * 512, Size: 655360 * 512},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Partitions(vda) = %+v, want %+v", got, want)
	}
	if disks, err := Disks(f.root); err != nil || strings.Join(disks, ",") != "vda" {
		t.Errorf("Disks = %v, %v, want [vda]", disks, err)
	}
}

func writeMountinfo(t *testing.T, lines ...string) string {
	t.Helper()
	proc := t.TempDir()
	p := filepath.Join(proc, "self", "mountinfo")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return proc
}

func TestRootDisk(t *testing.T) {
	f := newFakeSys(t)
	f.vda()
	f.nvme()
	// dm-0 (LVM) over vda2; dm-1 over both disks; md0 over dm-0.
	f.dev("/devices/virtual/block/dm-0", "253:0", map[string]string{"size": "1"})
	f.link("devices/virtual/block/dm-0/slaves/vda2", vdaPath+"/vda2")
	f.dev("/devices/virtual/block/dm-1", "253:1", map[string]string{"size": "1"})
	f.link("devices/virtual/block/dm-1/slaves/vda2", vdaPath+"/vda2")
	f.link("devices/virtual/block/dm-1/slaves/nvme0n1",
		"/devices/pci0000:00/0000:00:05.0/nvme/nvme0/nvme0n1")
	f.dev("/devices/virtual/block/md0", "9:0", map[string]string{"size": "1"})
	f.link("devices/virtual/block/md0/slaves/dm-0", "/devices/virtual/block/dm-0")

	tests := []struct {
		name    string
		devno   string
		want    string
		wantErr string
	}{
		{name: "partition", devno: "254:1", want: "vda"},
		{name: "whole disk", devno: "259:0", want: "nvme0n1"},
		{name: "lvm", devno: "253:0", want: "vda"},
		{name: "md over lvm", devno: "9:0", want: "vda"},
		{name: "two disks", devno: "253:1", wantErr: "spans 2 disks"},
		{name: "tmpfs", devno: "0:22", wantErr: "not a block device"},
	}
	for _, tt := range tests {
		proc := writeMountinfo(t,
			"1 0 0:5 / / rw - rootfs rootfs rw",
			"22 1 "+tt.devno+" / / rw,relatime shared:1 - ext4 /dev/x rw",
			"23 22 0:21 / /proc rw - proc proc rw")
		got, err := RootDisk(proc, f.root)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: RootDisk = %q, %v, want error %q", tt.name, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: RootDisk = %q, %v, want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestIsBlockDevice(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, err := IsBlockDevice(p); ok || err != nil {
		t.Errorf("IsBlockDevice(regular file) = %v, %v, want false", ok, err)
	}
	if ok, err := IsBlockDevice("/dev/null"); ok || err != nil {
		t.Errorf("IsBlockDevice(/dev/null) = %v, %v, want false", ok, err)
	}
	if _, err := IsBlockDevice(p + "-missing"); err == nil {
		t.Error("IsBlockDevice(missing) succeeded")
	}
}

func FuzzRootDevno(f *testing.F) {
	f.Add("22 1 254:1 / / rw - ext4 /dev/vda1 rw\n")
	f.Add("x")
	f.Fuzz(func(t *testing.T, s string) {
		p := filepath.Join(t.TempDir(), "mountinfo")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		devno, err := rootDevno(p)
		if err == nil && (devno == "" || strings.HasPrefix(devno, "0:")) {
			t.Errorf("rootDevno(%q) = %q without error", s, devno)
		}
	})
}
