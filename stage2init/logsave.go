package stage2init

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/takeover-dev/takeover/blockdev"
	"github.com/takeover-dev/takeover/plan"
)

// Default log location when the plan gives none, as the original tool's.
const (
	defaultLogDir  = "fallback_log"
	defaultLogFile = "fallback.log"
)

// saveLog keeps the log where it can be read after the reboot: on the log
// device if the plan names one, in the new data partition once the flashed
// partitions checked out, and on the old root when the run ended before the
// first write and no log device took the log. Failures here are only
// logged: the run ends in a reboot either way.
func (r *run) saveLog() {
	rel := r.logFile()
	onLogDevice := r.saveLogDevice(rel)
	if data, ok := r.dataPartition(); ok {
		r.saveToData(data, rel)
		return
	}
	r.log.Info("log not saved to the data partition: the disk was not flashed and checked")
	if onLogDevice {
		return
	}
	r.saveToOldRoot()
}

// saveLogDevice appends the log to the plan's log device, if any, and
// reports whether it is there.
func (r *run) saveLogDevice(rel string) bool {
	if r.device == nil || r.device.LogDevice == nil {
		return false
	}
	if err := r.saveToLogDevice(rel); err != nil {
		r.log.WithError(err).Warn("log not saved to the log device")
		return false
	}
	r.log.WithField("file", rel).Info("log saved to the log device")
	return true
}

func (r *run) saveToData(data part, rel string) {
	if err := r.appendLog(data, rel, 0o644); err != nil {
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

// appendLog mounts p and appends the log so far to rel in it, creating the
// file with mode.
func (r *run) appendLog(p part, rel string, mode os.FileMode) (err error) {
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
	return writeSynced(dst, os.O_APPEND, mode, bytes.NewReader(r.log.contents()))
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
	return r.appendLog(p, rel, 0o644)
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
