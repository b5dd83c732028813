package stage2init

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/takeover-dev/takeover/blockdev"
	"github.com/takeover-dev/takeover/plan"
)

// Default log location when the plan gives none, as the original tool's.
const (
	defaultLogDir  = "fallback_log"
	defaultLogFile = "fallback.log"
)

// writeFiles writes each file of the plan into its partition, one mount per
// partition, in the plan's order.
func (r *run) writeFiles(context.Context) error {
	var order []string
	byPart := map[string][]plan.File{}
	for _, f := range r.payload.Files {
		if _, ok := byPart[f.Partition]; !ok {
			order = append(order, f.Partition)
		}
		byPart[f.Partition] = append(byPart[f.Partition], f)
	}
	for _, name := range order {
		if err := r.writeInto(r.parts[name], byPart[name]); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) writeInto(p part, files []plan.File) (err error) {
	root, err := r.mount(p)
	if err != nil {
		return err
	}
	defer func() {
		if uerr := r.sys.Unmount(root); uerr != nil && err == nil {
			err = uerr
		}
	}()
	for _, f := range files {
		if err := writeFile(root, f); err != nil {
			return fmt.Errorf("writing %s into %s: %w", f.Target, p.Name, err)
		}
		r.log.WithField("file", f.Target).WithField("partition", p.Name).Info("file written")
	}
	return nil
}

// writeFile copies f.Source to f.Target under root with f.Mode and syncs it.
func writeFile(root string, f plan.File) error {
	dst, err := inside(root, f.Target)
	if err != nil {
		return err
	}
	src, err := os.Open(f.Source)
	if err != nil {
		return err
	}
	defer src.Close()
	return writeSynced(dst, os.O_TRUNC, os.FileMode(f.Mode&0o777), src)
}

// inside joins a target path to root, refusing one that climbs out.
func inside(root, target string) (string, error) {
	clean := filepath.Clean("/" + target)
	if clean == "/" || slices.Contains(strings.Split(target, "/"), "..") {
		return "", fmt.Errorf("target path %q is not a file inside the partition", target)
	}
	return filepath.Join(root, clean), nil
}

// writeSynced writes r to path (created with its parents), fsyncs the file
// and its directory.
func writeSynced(path string, flag int, mode os.FileMode, r io.Reader) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|flag, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// saveLog keeps the log where it can be read after the reboot: on the log
// device if the plan names one, and in the new data partition once the
// flashed partitions checked out. Failures here are only logged: the run
// ends in a reboot either way.
func (r *run) saveLog() {
	rel := r.logFile()
	if r.device != nil && r.device.LogDevice != nil {
		if err := r.saveToLogDevice(rel); err != nil {
			r.log.WithError(err).Warn("log not saved to the log device")
		} else {
			r.log.WithField("file", rel).Info("log saved to the log device")
		}
	}
	data, ok := r.dataPartition()
	if !ok {
		r.log.Info("log not saved to the data partition: the disk was not flashed and checked")
		return
	}
	if err := r.appendLog(data, rel); err != nil {
		r.log.WithError(err).Warn("log not saved to the data partition")
		return
	}
	r.log.WithField("file", rel).WithField("partition", data.Name).Info("log saved")
}

// logFile is the log's path inside a partition, from the plan.
func (r *run) logFile() string {
	dir, file := defaultLogDir, defaultLogFile
	if r.payload != nil && r.payload.Log.FallbackDir != "" {
		dir = r.payload.Log.FallbackDir
	}
	if r.payload != nil && r.payload.Log.FallbackFilename != "" {
		file = r.payload.Log.FallbackFilename
	}
	return filepath.Join(dir, file)
}

// appendLog mounts p and appends the log so far to rel in it.
func (r *run) appendLog(p part, rel string) (err error) {
	root, err := r.mount(p)
	if err != nil {
		return err
	}
	defer func() {
		if uerr := r.sys.Unmount(root); uerr != nil && err == nil {
			err = uerr
		}
	}()
	dst, err := inside(root, rel)
	if err != nil {
		return err
	}
	return writeSynced(dst, os.O_APPEND, 0o644, strings.NewReader(string(r.log.contents())))
}

// saveToLogDevice finds the plan's log device, refusing the target disk.
func (r *run) saveToLogDevice(rel string) error {
	want := *r.device.LogDevice
	name, err := blockdev.Find(r.cfg.SysRoot, want)
	if err != nil {
		return err
	}
	got, err := blockdev.Identify(r.cfg.SysRoot, name)
	if err != nil {
		return err
	}
	if blockdev.Match(r.device.Disk, got) == nil {
		return fmt.Errorf("log device %s is the target disk", name)
	}
	dev := name
	if want.Partition > 0 {
		if dev, err = partitionName(r.cfg.SysRoot, name, want.Partition); err != nil {
			return err
		}
	}
	p := part{Partition: plan.Partition{Name: "log", FSType: want.FSType},
		dev: filepath.Join(r.cfg.DevDir, dev)}
	return r.appendLog(p, rel)
}

func partitionName(sysRoot, disk string, number int) (string, error) {
	parts, err := blockdev.Partitions(sysRoot, disk)
	if err != nil {
		return "", err
	}
	for _, p := range parts {
		if p.Number == number {
			return p.Name, nil
		}
	}
	return "", fmt.Errorf("finding partition %d of %s: %w", number, disk, errMissing)
}

// setupEFI would point the firmware's boot order at balenaOS.
func (r *run) setupEFI(context.Context) error {
	if _, err := os.Stat(filepath.Join(r.cfg.SysRoot, "firmware", "efi")); err != nil {
		r.log.Info("no EFI firmware, skipping EFI setup")
		return nil
	}
	if !r.payload.Options.EFISetup {
		r.log.Info("EFI setup turned off by the plan, skipping it")
		return nil
	}
	// TODO: write Boot#### and BootOrder through efivarfs so the firmware
	// boots \EFI\BOOT\bootx64.efi on the flashed disk first. Until then the
	// old OS's entries stay first and the firmware reaches balenaOS only by
	// falling back to the disk's removable-media path once they fail.
	r.log.Warn("EFI boot entry not set up: not implemented; relying on the firmware's " +
		"fallback to \\EFI\\BOOT on the flashed disk")
	return nil
}
