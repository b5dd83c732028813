package kmod_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/takeover-dev/takeover/kmod"
	"github.com/takeover-dev/takeover/kmod/kmodtest"
)

// fakeDep is a modules.dep shaped like Debian's generic kernel, where ext4
// is a module too.
var fakeDep = map[string][]string{
	"kernel/drivers/virtio/virtio_ring.ko":           nil,
	"kernel/drivers/virtio/virtio.ko":                {"kernel/drivers/virtio/virtio_ring.ko"},
	"kernel/drivers/virtio/virtio_pci_modern_dev.ko": nil,
	"kernel/drivers/virtio/virtio_pci_legacy_dev.ko": nil,
	"kernel/drivers/virtio/virtio_pci.ko": {"kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
		"kernel/drivers/virtio/virtio_pci_modern_dev.ko", "kernel/drivers/virtio/virtio.ko",
		"kernel/drivers/virtio/virtio_ring.ko"},
	"kernel/drivers/block/virtio_blk.ko": {"kernel/drivers/virtio/virtio.ko",
		"kernel/drivers/virtio/virtio_ring.ko"},
	"kernel/fs/fat/fat.ko":                   nil,
	"kernel/fs/fat/vfat.ko":                  {"kernel/fs/fat/fat.ko"},
	"kernel/fs/nls/nls_cp437.ko":             nil,
	"kernel/fs/nls/nls_ascii.ko":             nil,
	"kernel/fs/nls/nls_utf8.ko":              nil,
	"kernel/lib/crc16.ko":                    nil,
	"kernel/fs/mbcache.ko":                   nil,
	"kernel/fs/jbd2/jbd2.ko":                 nil,
	"kernel/fs/ext4/ext4.ko":                 {"kernel/fs/jbd2/jbd2.ko", "kernel/fs/mbcache.ko", "kernel/lib/crc16.ko"},
	"kernel/crypto/crc32c_generic.ko":        nil,
	"kernel/drivers/watchdog/watchdog.ko":    nil,
	"kernel/drivers/watchdog/i6300esb.ko":    {"kernel/drivers/watchdog/watchdog.ko"},
	"kernel/drivers/watchdog/softdog.ko":     {"kernel/drivers/watchdog/watchdog.ko"},
	"kernel/drivers/scsi/sd_mod.ko":          {"kernel/drivers/scsi/scsi_mod.ko"},
	"kernel/drivers/scsi/scsi_mod.ko":        nil,
	"kernel/drivers/ata/ahci.ko":             {"kernel/drivers/ata/libahci.ko", "kernel/drivers/ata/libata.ko"},
	"kernel/drivers/ata/libahci.ko":          {"kernel/drivers/ata/libata.ko"},
	"kernel/drivers/ata/libata.ko":           {"kernel/drivers/scsi/scsi_mod.ko"},
	"kernel/drivers/mmc/host/sdhci-iproc.ko": nil,
}

func names(mods []kmod.Module) []string {
	var out []string
	for _, m := range mods {
		out = append(out, m.Name)
	}
	return out
}

var virtioChain = []string{"virtio_ring", "virtio", "virtio_pci_modern_dev",
	"virtio_pci_legacy_dev", "virtio_pci", "virtio_blk"}

var ahciDisk = []kmodtest.Level{
	{Dir: "pci0000:00"},
	{Dir: "pci0000:00/0000:00:1f.2", Bus: "pci", Driver: "ahci", Module: "ahci", Loadable: true},
	{Dir: "pci0000:00/0000:00:1f.2/ata1"},
	{Dir: "pci0000:00/0000:00:1f.2/ata1/host0"},
	{Dir: "pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0"},
	{Dir: "pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0", Bus: "scsi", Driver: "sd",
		Module: "sd_mod", Loadable: true},
}

// unboundMMC is a device without a driver link, found through modalias.
var unboundMMC = []kmodtest.Level{
	{Dir: "platform"},
	{Dir: "platform/fe340000.mmc", Modalias: "of:NmmcT(null)Cbrcm,bcm2711-emmc2"},
	{Dir: "platform/fe340000.mmc/mmc_host/mmc0/mmc0:0001", Bus: "mmc", Driver: "mmcblk"},
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, sys string)
		devices  []string
		fs       []string
		watchdog bool
		builtin  []string
		want     []string
	}{
		{
			name:    "virtio disk with vfat and ext4",
			setup:   func(t *testing.T, sys string) { kmodtest.BlockDevice(t, sys, "vda", kmodtest.VirtioDisk(), "vda1") },
			devices: []string{"vda1"},
			fs:      []string{"vfat", "ext4"},
			want: append(append([]string{}, virtioChain...), "fat", "vfat", "nls_cp437", "nls_ascii",
				"nls_utf8", "crc16", "mbcache", "jbd2", "ext4", "crc32c_generic"),
		},
		{
			name:    "ext4 and crc32c built in",
			setup:   func(t *testing.T, sys string) { kmodtest.BlockDevice(t, sys, "vda", kmodtest.VirtioDisk()) },
			devices: []string{"vda"},
			fs:      []string{"ext4"},
			builtin: []string{"kernel/fs/ext4/ext4.ko", "kernel/crypto/crc32c_generic.ko"},
			want:    virtioChain,
		},
		{
			name:    "sata disk behind ahci",
			setup:   func(t *testing.T, sys string) { kmodtest.BlockDevice(t, sys, "sda", ahciDisk, "sda1") },
			devices: []string{"sda1"},
			want:    []string{"scsi_mod", "libata", "libahci", "ahci", "sd_mod"},
		},
		{
			name: "built-in driver without a module link",
			setup: func(t *testing.T, sys string) {
				kmodtest.BlockDevice(t, sys, "nvme0n1", []kmodtest.Level{
					{Dir: "pci0000:00"},
					{Dir: "pci0000:00/0000:00:05.0", Bus: "pci", Driver: "nvme"},
					{Dir: "pci0000:00/0000:00:05.0/nvme/nvme0"},
				}, "nvme0n1p1")
			},
			devices: []string{"nvme0n1p1"},
			want:    nil,
		},
		{
			name: "built-in driver with a module entry but no initstate",
			setup: func(t *testing.T, sys string) {
				kmodtest.BlockDevice(t, sys, "nvme0n1", []kmodtest.Level{
					{Dir: "pci0000:00"},
					{Dir: "pci0000:00/0000:00:05.0", Bus: "pci", Driver: "nvme", Module: "nvme"},
					{Dir: "pci0000:00/0000:00:05.0/nvme/nvme0"},
				})
			},
			devices: []string{"nvme0n1"},
			want:    nil,
		},
		{
			name:    "unbound device resolved through modalias",
			setup:   func(t *testing.T, sys string) { kmodtest.BlockDevice(t, sys, "mmcblk0", unboundMMC) },
			devices: []string{"mmcblk0"},
			want:    []string{"sdhci_iproc"},
		},
		{
			name: "pci watchdog",
			setup: func(t *testing.T, sys string) {
				kmodtest.Watchdog(t, sys, "watchdog0", []kmodtest.Level{
					{Dir: "pci0000:00"},
					{Dir: "pci0000:00/0000:00:06.0", Bus: "pci", Driver: "i6300esb", Module: "i6300esb",
						Loadable: true},
				})
			},
			watchdog: true,
			want:     []string{"watchdog", "i6300esb"},
		},
		{
			name: "softdog",
			setup: func(t *testing.T, sys string) {
				kmodtest.Watchdog(t, sys, "watchdog0", nil)
				kmodtest.Module(t, sys, "softdog", true)
			},
			watchdog: true,
			want:     []string{"watchdog", "softdog"},
		},
		{
			name:     "no watchdog",
			setup:    func(t *testing.T, sys string) {},
			watchdog: true,
			want:     nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys, mods := filepath.Join(t.TempDir(), "sys"), t.TempDir()
			tt.setup(t, sys)
			dep := map[string][]string{}
			for k, v := range fakeDep {
				if !contains(tt.builtin, k) {
					dep[k] = v
				}
			}
			kmodtest.ModulesDir(t, mods, dep, tt.builtin,
				[]string{"alias of:N*T*Cbrcm,bcm2711-emmc2 sdhci_iproc", "alias of:N*T*Cfoo sdhci_foo"})

			got, err := kmod.Resolve(kmod.ResolveOptions{SysRoot: sys, ModulesDir: mods,
				Devices: tt.devices, FileSystems: tt.fs, Watchdog: tt.watchdog})
			if err != nil {
				t.Fatalf("Resolve() error: %v", err)
			}
			if !reflect.DeepEqual(names(got), tt.want) {
				t.Errorf("Resolve() = %v, want %v", names(got), tt.want)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		name    string
		devices []string
		fs      []string
		remove  string // module file to delete
		wantErr string
	}{
		{name: "missing module file", devices: []string{"vda"},
			remove: "kernel/drivers/virtio/virtio.ko", wantErr: "module virtio:"},
		{name: "unknown device", devices: []string{"sdz"}, wantErr: "sdz"},
		{name: "unknown file system", fs: []string{"zfs"},
			wantErr: "module zfs (for zfs) is neither in modules.dep nor built in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys, mods := filepath.Join(t.TempDir(), "sys"), t.TempDir()
			kmodtest.BlockDevice(t, sys, "vda", kmodtest.VirtioDisk())
			kmodtest.ModulesDir(t, mods, fakeDep, nil, nil)
			if tt.remove != "" {
				if err := os.Remove(filepath.Join(mods, tt.remove)); err != nil {
					t.Fatal(err)
				}
			}
			_, err := kmod.Resolve(kmod.ResolveOptions{SysRoot: sys, ModulesDir: mods,
				Devices: tt.devices, FileSystems: tt.fs})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Resolve() error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestResolveLoadedModuleNotInDep(t *testing.T) {
	sys, mods := filepath.Join(t.TempDir(), "sys"), t.TempDir()
	kmodtest.BlockDevice(t, sys, "vda", []kmodtest.Level{
		{Dir: "pci0000:00"},
		{Dir: "pci0000:00/0000:00:04.0", Bus: "pci", Driver: "out-of-tree", Module: "out_of_tree",
			Loadable: true},
	})
	kmodtest.ModulesDir(t, mods, fakeDep, nil, nil)
	_, err := kmod.Resolve(kmod.ResolveOptions{SysRoot: sys, ModulesDir: mods, Devices: []string{"vda"}})
	if err == nil || !strings.Contains(err.Error(), "out_of_tree") {
		t.Errorf("Resolve() error = %v, want one naming out_of_tree", err)
	}
}
