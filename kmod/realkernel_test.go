package kmod_test

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/takeover-dev/takeover/internal/vmtest"

	"github.com/takeover-dev/takeover/kmod"
	"github.com/takeover-dev/takeover/kmod/kmodtest"
)

// On Debian's cloud kernel virtio is modular and ext4 built in: a virtio
// disk with vfat and ext4 needs the virtio chain in the order that loads
// (virtio before virtio_ring fails with "Unknown symbol"), plus vfat.
func TestResolveDebianCloudKernel(t *testing.T) {
	_, mods, err := vmtest.FetchedKernel()
	if err != nil {
		t.Skip(err)
	}
	sys := filepath.Join(t.TempDir(), "sys")
	kmodtest.BlockDevice(t, sys, "vda", kmodtest.VirtioDisk(), "vda1", "vda2")

	got, err := kmod.Resolve(kmod.ResolveOptions{SysRoot: sys, ModulesDir: mods,
		Devices: []string{"vda1", "vda2"}, FileSystems: []string{"vfat", "ext4"}})
	if err != nil {
		t.Fatalf("Resolve() error: %v", err)
	}
	want := []string{"virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev",
		"virtio_pci", "virtio_blk", "fat", "vfat", "nls_cp437", "nls_ascii", "nls_utf8"}
	if !reflect.DeepEqual(names(got), want) {
		t.Errorf("Resolve() = %v, want %v", names(got), want)
	}
	if got[len(got)-1].Path != "kernel/fs/nls/nls_utf8.ko" {
		t.Errorf("Resolve() last path = %s, want kernel/fs/nls/nls_utf8.ko", got[len(got)-1].Path)
	}
}
