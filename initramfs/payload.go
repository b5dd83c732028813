package initramfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/takeover-dev/takeover/kmod"
	"github.com/takeover-dev/takeover/plan"
)

// PayloadInput names the host files of the payload archive.
type PayloadInput struct {
	Init        string        // takeover binary for the target architecture -> /init
	Image       string        // the image as fetched -> plan.ImageDir/<basename>
	ConfigJSON  string        // -> plan.ConfigJSONPath (0600); optional
	Connections []string      // NetworkManager keyfiles -> plan.ConnectionsDir/<basename> (0600)
	Proxy       []string      // proxy configuration -> plan.ProxyDir/<basename> (0600)
	Backup      string        // backup archive -> plan.BackupPath (0600); optional
	Plan        *plan.Payload // -> plan.PayloadPlanPath (0644)
}

// baseDirs are the mount points stage2 needs in the root file system.
var baseDirs = []string{"/dev", "/proc", "/sys", "/run", "/tmp", "/mnt"}

// PayloadEntries lists the payload archive: /init, the image, the
// configuration files, the plan, the base directories and /dev/console.
// It refuses a plan that does not validate or that names an image or file
// the archive would not hold.
func PayloadEntries(in PayloadInput) ([]Entry, error) {
	if in.Init == "" || in.Image == "" || in.Plan == nil {
		return nil, errors.New("listing payload: init, image and plan are required")
	}
	if err := in.Plan.Validate(); err != nil {
		return nil, fmt.Errorf("listing payload: %w", err)
	}

	entries := baseEntries()
	entries = append(entries,
		Entry{Path: "/init", Source: in.Init, Mode: 0o755},
		Entry{Path: path.Join(plan.ImageDir, filepath.Base(in.Image)), Source: in.Image, Mode: 0o644},
	)
	entries = appendSecret(entries, plan.ConfigJSONPath, in.ConfigJSON)
	entries = appendSecret(entries, plan.BackupPath, in.Backup)
	for _, c := range in.Connections {
		entries = appendSecret(entries, path.Join(plan.ConnectionsDir, filepath.Base(c)), c)
	}
	for _, p := range in.Proxy {
		entries = appendSecret(entries, path.Join(plan.ProxyDir, filepath.Base(p)), p)
	}

	data, err := plan.Marshal(in.Plan)
	if err != nil {
		return nil, fmt.Errorf("listing payload: encoding plan: %w", err)
	}
	entries = append(entries, Entry{Path: plan.PayloadPlanPath, Mode: 0o644, Data: data})

	if err := checkPayloadPlan(in.Plan, entries); err != nil {
		return nil, fmt.Errorf("listing payload: %w", err)
	}
	return entries, nil
}

// baseEntries are the mount points and /dev/console (char 5:1), which the
// kernel opens for /init's stdin, stdout and stderr.
func baseEntries() []Entry {
	var entries []Entry
	for _, d := range baseDirs {
		entries = append(entries, Entry{Path: d, Mode: os.ModeDir | 0o755})
	}
	return append(entries, Entry{Path: "/dev/console",
		Mode: os.ModeDevice | os.ModeCharDevice | 0o600, Rmajor: 5, Rminor: 1})
}

// appendSecret adds a 0600 file when source is set.
func appendSecret(entries []Entry, target, source string) []Entry {
	if source == "" {
		return entries
	}
	return append(entries, Entry{Path: target, Source: source, Mode: 0o600})
}

// checkPayloadPlan makes sure every file the plan names rides in entries.
func checkPayloadPlan(p *plan.Payload, entries []Entry) error {
	have := make(map[string]bool, len(entries))
	for _, e := range entries {
		have[e.Path] = true
	}
	if !have[p.Image.Path] {
		return fmt.Errorf("plan image %s is not in the payload", p.Image.Path)
	}
	for _, f := range p.Files {
		if !have[f.Source] {
			return fmt.Errorf("plan file %s (for %s) is not in the payload", f.Source, f.Partition)
		}
	}
	return nil
}

// DeviceEntries lists the device archive: the kernel modules, copied from
// modulesDir (the running kernel's /lib/modules/<release>) to
// plan.ModulesDir/<Path>, and the device plan. The plan written is a copy of
// dev whose Modules lists those archive paths in load order.
func DeviceEntries(modulesDir string, modules []kmod.Module, dev *plan.Device) ([]Entry, error) {
	if dev == nil {
		return nil, errors.New("listing device archive: no device plan")
	}
	d := *dev
	d.Modules = nil
	var entries []Entry
	for _, m := range modules {
		if !filepath.IsLocal(m.Path) {
			return nil, fmt.Errorf("listing device archive: module %s has path %q outside "+
				"the modules directory", m.Name, m.Path)
		}
		target := path.Join(plan.ModulesDir, filepath.ToSlash(m.Path))
		entries = append(entries, Entry{Path: target, Source: filepath.Join(modulesDir, m.Path),
			Mode: 0o644})
		d.Modules = append(d.Modules, target)
	}

	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("listing device archive: %w", err)
	}
	data, err := plan.Marshal(&d)
	if err != nil {
		return nil, fmt.Errorf("listing device archive: encoding plan: %w", err)
	}
	return append(entries, Entry{Path: plan.DevicePlanPath, Mode: 0o644, Data: data}), nil
}
