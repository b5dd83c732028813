package kmod

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"
)

// ResolveOptions says what stage2 must be able to use.
type ResolveOptions struct {
	SysRoot     string   // sysfs mount, "/sys" when empty
	ModulesDir  string   // the running kernel's /lib/modules/<release>
	Devices     []string // block device names in /sys/class/block: vda, nvme0n1p1, sda1
	FileSystems []string // file systems stage2 mounts: vfat, ext4
	Watchdog    bool     // include the drivers of /sys/class/watchdog/*
	Log         logrus.FieldLogger
}

// fsModules are the modules a file system needs beyond its modules.dep
// entry: vfat's default code pages and ext4's checksum, which the kernel
// requests at mount time rather than through symbol dependencies.
var fsModules = map[string]struct{ required, optional []string }{
	"vfat": {required: []string{"fat", "vfat"},
		optional: []string{"nls_cp437", "nls_ascii", "nls_utf8"}},
	"ext4": {required: []string{"ext4"}, optional: []string{"crc32c_generic"}},
	"ext3": {required: []string{"ext4"}, optional: []string{"crc32c_generic"}},
	"ext2": {required: []string{"ext4"}, optional: []string{"crc32c_generic"}},
	// stage2 writes the EFI boot entry through efivarfs (a module on Debian).
	"efivarfs": {required: []string{"efivarfs"}},
}

// Resolve returns the loadable modules that drive the given devices, mount
// the given file systems and run the watchdog, with their dependencies, in
// load order (dependencies first). Modules built into the kernel are left
// out. A module that is needed but has no file is an error naming it.
func Resolve(o ResolveOptions) ([]Module, error) {
	r, err := newResolver(o)
	if err != nil {
		return nil, fmt.Errorf("resolving kernel modules: %w", err)
	}

	for _, dev := range o.Devices {
		if err := r.addDevice(dev); err != nil {
			return nil, fmt.Errorf("resolving kernel modules for %s: %w", dev, err)
		}
	}
	for _, fsType := range o.FileSystems {
		if err := r.addFileSystem(fsType); err != nil {
			return nil, fmt.Errorf("resolving kernel modules for %s: %w", fsType, err)
		}
	}
	if o.Watchdog {
		if err := r.addWatchdogs(); err != nil {
			return nil, fmt.Errorf("resolving kernel modules for the watchdog: %w", err)
		}
	}

	mods, err := r.closure()
	if err != nil {
		return nil, fmt.Errorf("resolving kernel modules: %w", err)
	}
	return mods, nil
}

// resolver collects the wanted module names in order.
type resolver struct {
	ix      *index
	sysRoot string
	log     logrus.FieldLogger
	wanted  []string
	seen    map[string]bool
}

func newResolver(o ResolveOptions) (*resolver, error) {
	if o.ModulesDir == "" {
		return nil, errors.New("no modules directory given")
	}
	ix, err := loadIndex(o.ModulesDir)
	if err != nil {
		return nil, err
	}
	r := &resolver{ix: ix, sysRoot: o.SysRoot, log: o.Log, seen: map[string]bool{}}
	if r.sysRoot == "" {
		r.sysRoot = "/sys"
	}
	if r.log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		r.log = l
	}
	return r, nil
}

// want adds a module by name unless it is built in. what says why it is
// needed, for the log and for errors.
func (r *resolver) want(name, what string) error {
	name = moduleName(name)
	log := r.log.WithField("module", name).WithField("for", what)
	switch {
	case r.seen[name]:
		return nil
	case r.builtin(name):
		log.Debug("module built in")
		return nil
	case r.ix.dep[name].path == "":
		return fmt.Errorf("module %s (for %s) is neither in modules.dep nor built in", name, what)
	}
	log.Debug("module needed")
	r.seen[name] = true
	r.wanted = append(r.wanted, name)
	return nil
}

// builtin reports whether a module is part of the kernel image: listed in
// modules.builtin, or present in sysfs without the initstate file that
// every loaded module has.
func (r *resolver) builtin(name string) bool {
	if r.ix.builtin[name] {
		return true
	}
	if _, ok := r.ix.dep[name]; ok {
		return false
	}
	dir := filepath.Join(r.sysRoot, "module", name)
	if _, err := os.Stat(dir); err != nil {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, "initstate"))
	return errors.Is(err, fs.ErrNotExist)
}

// addFileSystem wants a file system's modules; its extras are skipped with
// a warning when the kernel has them neither built in nor as modules.
func (r *resolver) addFileSystem(fsType string) error {
	set, ok := fsModules[fsType]
	if !ok {
		set.required = []string{fsType}
	}
	for _, m := range set.required {
		if err := r.want(m, fsType); err != nil {
			return err
		}
	}
	for _, m := range set.optional {
		if err := r.want(m, fsType); err != nil {
			r.log.WithField("module", m).WithField("for", fsType).
				Warn("optional module not available, skipping")
		}
	}
	return nil
}

// closure adds every dependency and orders the result for loading.
func (r *resolver) closure() ([]Module, error) {
	state := map[string]int{} // 1: being visited, 2: done
	var out []Module
	var visit func(name string) error
	visit = func(name string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("modules.dep has a dependency cycle through %s", name)
		case 2:
			return nil
		}
		e, ok := r.ix.dep[name]
		if !ok {
			return fmt.Errorf("dependency %s is not in modules.dep", name)
		}
		state[name] = 1
		for i := len(e.deps) - 1; i >= 0; i-- { // modules.dep lists them right to left
			if err := visit(e.deps[i]); err != nil {
				return err
			}
		}
		state[name] = 2
		out = append(out, Module{Name: name, Path: e.path})
		return nil
	}

	for _, name := range r.wanted {
		if err := visit(name); err != nil {
			return nil, err
		}
	}
	return out, r.checkFiles(out)
}

// checkFiles makes sure every module has its file.
func (r *resolver) checkFiles(mods []Module) error {
	for _, m := range mods {
		fi, err := os.Stat(filepath.Join(r.ix.dir, m.Path))
		if err != nil {
			return fmt.Errorf("module %s: %w", m.Name, err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("module %s: %s is not a regular file", m.Name, m.Path)
		}
	}
	return nil
}
