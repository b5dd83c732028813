package kmod

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// addDevice wants the drivers of a block device and of every device above
// it, bus drivers first.
func (r *resolver) addDevice(name string) error {
	link := filepath.Join(r.sysRoot, "class", "block", name)
	names, err := r.driversUp(link)
	if err != nil {
		return err
	}
	for _, m := range names {
		if err := r.want(m, name); err != nil {
			return err
		}
	}
	return nil
}

// addWatchdogs wants the drivers of every watchdog in /sys/class/watchdog.
func (r *resolver) addWatchdogs() error {
	dogs, err := filepath.Glob(filepath.Join(r.sysRoot, "class", "watchdog", "*"))
	if err != nil {
		return err
	}
	sort.Strings(dogs)
	for _, dog := range dogs {
		what := filepath.Base(dog)
		names, err := r.watchdogDrivers(dog)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		for _, m := range names {
			if err := r.want(m, what); err != nil {
				return err
			}
		}
	}
	return nil
}

// watchdogDrivers returns the drivers behind a watchdog's device link. A
// watchdog without one is virtual; the only such driver is softdog.
func (r *resolver) watchdogDrivers(dog string) ([]string, error) {
	dev := filepath.Join(dog, "device")
	if _, err := os.Lstat(dev); err == nil {
		return r.driversUp(dev)
	}
	if _, err := os.Stat(filepath.Join(r.sysRoot, "module", "softdog")); err == nil {
		return []string{"softdog"}, nil
	}
	r.log.WithField("watchdog", filepath.Base(dog)).Warn("watchdog driver unknown, not carried")
	return nil, nil
}

// driversUp resolves a sysfs device link and walks from that device up to
// /sys/devices, collecting module names: from driver/module where a driver
// is bound, else from modalias through modules.alias. The result is in load
// order: the outermost (bus) device first.
func (r *resolver) driversUp(link string) ([]string, error) {
	devices, err := filepath.EvalSymlinks(filepath.Join(r.sysRoot, "devices"))
	if err != nil {
		return nil, fmt.Errorf("reading sysfs: %w", err)
	}
	dir, err := filepath.EvalSymlinks(link)
	if err != nil {
		return nil, fmt.Errorf("finding device in sysfs: %w", err)
	}
	if !strings.HasPrefix(dir, devices+string(filepath.Separator)) {
		return nil, fmt.Errorf("%s resolves to %s, outside %s", link, dir, devices)
	}

	var names []string
	for ; dir != devices; dir = filepath.Dir(dir) {
		found, err := r.deviceModules(dir)
		if err != nil {
			return nil, err
		}
		names = append(found, names...)
	}
	return names, nil
}

// deviceModules returns the modules of one sysfs device directory.
func (r *resolver) deviceModules(dir string) ([]string, error) {
	if _, err := os.Lstat(filepath.Join(dir, "driver")); err == nil {
		mod, err := os.Readlink(filepath.Join(dir, "driver", "module"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil // a built-in driver without a module entry
		}
		if err != nil {
			return nil, fmt.Errorf("reading driver of %s: %w", dir, err)
		}
		return []string{filepath.Base(mod)}, nil
	}

	b, err := os.ReadFile(filepath.Join(dir, "modalias"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading modalias of %s: %w", dir, err)
	}
	modalias := strings.TrimSpace(string(b))
	mods := r.ix.lookupAlias(modalias)
	r.log.WithField("modalias", modalias).WithField("modules", mods).Debug("device has no driver")
	return mods, nil
}
