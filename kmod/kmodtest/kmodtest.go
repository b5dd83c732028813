// Package kmodtest builds fake sysfs trees and module directories for tests
// of kernel module resolution, shaped like the real ones: the same symlinks
// from /sys/class/block into /sys/devices, driver links into /sys/bus and
// module links into /sys/module.
package kmodtest

import (
	"os"
	"path/filepath"
	"testing"
)

// Level is one device directory on the way from the root to a block device.
type Level struct {
	Dir      string // path under /sys/devices, e.g. pci0000:00/0000:00:04.0
	Bus      string // bus of the bound driver, e.g. pci; "" for none
	Driver   string // driver name as the bus shows it, e.g. virtio-pci
	Module   string // module name, "" for a built-in driver without one
	Loadable bool   // the module has /sys/module/<name>/initstate (not built in)
	Modalias string // written to modalias when set
}

// VirtioDisk describes a virtio-blk disk on virtio-pci, as QEMU's
// `-drive if=virtio` gives: /sys/class/block/<name> ->
// ../../devices/pci0000:00/0000:00:04.0/virtio1/block/<name>.
func VirtioDisk() []Level {
	return []Level{
		{Dir: "pci0000:00"},
		{Dir: "pci0000:00/0000:00:04.0", Bus: "pci", Driver: "virtio-pci", Module: "virtio_pci",
			Loadable: true, Modalias: "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00"},
		{Dir: "pci0000:00/0000:00:04.0/virtio1", Bus: "virtio", Driver: "virtio_blk",
			Module: "virtio_blk", Loadable: true, Modalias: "virtio:d00000002v00001AF4"},
	}
}

// BlockDevice creates the levels and /sys/class/block/<name> under sysRoot,
// the disk itself at <last level>/block/<name>, and partitions under it.
func BlockDevice(t testing.TB, sysRoot, name string, levels []Level, partitions ...string) {
	t.Helper()
	for _, l := range levels {
		addLevel(t, sysRoot, l)
	}
	parent := filepath.Join(sysRoot, "devices", levels[len(levels)-1].Dir)
	disk := filepath.Join(parent, "block", name)
	mkdir(t, disk)
	symlink(t, disk, filepath.Join(sysRoot, "class", "block", name))
	for _, p := range partitions {
		part := filepath.Join(disk, p)
		mkdir(t, part)
		symlink(t, part, filepath.Join(sysRoot, "class", "block", p))
	}
}

// Watchdog creates /sys/class/watchdog/<name> for a watchdog device at the
// last level, or a virtual one (no device link) when levels is empty.
func Watchdog(t testing.TB, sysRoot, name string, levels []Level) {
	t.Helper()
	dir := filepath.Join(sysRoot, "devices", "virtual", "watchdog", name)
	if len(levels) > 0 {
		for _, l := range levels {
			addLevel(t, sysRoot, l)
		}
		dev := filepath.Join(sysRoot, "devices", levels[len(levels)-1].Dir)
		dir = filepath.Join(dev, "watchdog", name)
		mkdir(t, dir)
		symlink(t, dev, filepath.Join(dir, "device"))
	}
	mkdir(t, dir)
	symlink(t, dir, filepath.Join(sysRoot, "class", "watchdog", name))
}

// Module creates /sys/module/<name>, with initstate when loadable.
func Module(t testing.TB, sysRoot, name string, loadable bool) {
	t.Helper()
	dir := filepath.Join(sysRoot, "module", name)
	mkdir(t, dir)
	if loadable {
		write(t, filepath.Join(dir, "initstate"), "live\n")
	}
}

func addLevel(t testing.TB, sysRoot string, l Level) {
	dir := filepath.Join(sysRoot, "devices", l.Dir)
	mkdir(t, dir)
	if l.Modalias != "" {
		write(t, filepath.Join(dir, "modalias"), l.Modalias+"\n")
	}
	if l.Driver == "" {
		return
	}
	drv := filepath.Join(sysRoot, "bus", l.Bus, "drivers", l.Driver)
	mkdir(t, drv)
	if _, err := os.Lstat(filepath.Join(dir, "driver")); err != nil {
		symlink(t, drv, filepath.Join(dir, "driver"))
	}
	if l.Module == "" {
		return
	}
	Module(t, sysRoot, l.Module, l.Loadable)
	if _, err := os.Lstat(filepath.Join(drv, "module")); err != nil {
		symlink(t, filepath.Join(sysRoot, "module", l.Module), filepath.Join(drv, "module"))
	}
}

// ModulesDir writes a modules directory: modules.dep from dep (path ->
// dependency paths, in modules.dep order), modules.builtin, modules.alias
// lines, and an empty file for every module.
func ModulesDir(t testing.TB, dir string, dep map[string][]string, builtin, aliases []string) {
	t.Helper()
	var depText, builtinText, aliasText string
	for mod, deps := range dep {
		depText += mod + ":"
		for _, d := range deps {
			depText += " " + d
		}
		depText += "\n"
		mkdir(t, filepath.Dir(filepath.Join(dir, mod)))
		write(t, filepath.Join(dir, mod), "")
	}
	for _, b := range builtin {
		builtinText += b + "\n"
	}
	for _, a := range aliases {
		aliasText += a + "\n"
	}
	write(t, filepath.Join(dir, "modules.dep"), depText)
	write(t, filepath.Join(dir, "modules.builtin"), builtinText)
	write(t, filepath.Join(dir, "modules.alias"), aliasText)
}

// symlink makes link point at target with a relative path, as sysfs does.
func symlink(t testing.TB, target, link string) {
	t.Helper()
	mkdir(t, filepath.Dir(link))
	rel, err := filepath.Rel(filepath.Dir(link), target)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(rel, link); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t testing.TB, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func write(t testing.TB, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
