package kmod_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/takeover-dev/takeover/kmod"
	"github.com/takeover-dev/takeover/kmod/kmodtest"
)

// debianModulesDir returns the modules directory of Debian's cloud kernel as
// unpacked by scripts/fetch-kernel.sh, or skips.
func debianModulesDir(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("TAKEOVER_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "takeover")
	}
	deps, _ := filepath.Glob(filepath.Join(cache, "linux-image-*", "lib", "modules", "*", "modules.dep"))
	if len(deps) == 0 {
		t.Skipf("no kernel in %s: run scripts/fetch-kernel.sh %s", cache, cache)
	}
	return filepath.Dir(deps[0])
}

// On Debian's cloud kernel virtio is modular and ext4 built in: a virtio
// disk with vfat and ext4 needs the virtio chain in the order that loads
// (virtio before virtio_ring fails with "Unknown symbol"), plus vfat.
func TestResolveDebianCloudKernel(t *testing.T) {
	mods := debianModulesDir(t)
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
