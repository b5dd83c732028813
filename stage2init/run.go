package stage2init

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/takeover-dev/takeover/plan"
)

// Config says where stage2 finds its inputs; Main uses DefaultConfig and
// tests point it at temporary trees.
type Config struct {
	PayloadPlan string // plan.PayloadPlanPath
	DevicePlan  string // plan.DevicePlanPath
	ModulesDir  string // plan.ModulesDir
	SysRoot     string // /sys
	ProcRoot    string // /proc
	DevDir      string // /dev
	MountDir    string // where partitions are mounted
	Console     io.Writer
	Kmsg        io.Writer // /dev/kmsg, or nil

	FindTimeout      time.Duration // how long to wait for the disk to appear
	PartitionTimeout time.Duration // how long to wait for partitions after re-reading
	SyncTimeout      time.Duration // how long the final sync may take
	ProgressInterval time.Duration

	// OpenImage returns the decompressed image stream; nil for the image
	// package's reader.
	OpenImage func(path, compression string) (io.ReadCloser, error)
}

// DefaultConfig is the configuration of the real stage2.
func DefaultConfig() Config {
	return Config{
		PayloadPlan: plan.PayloadPlanPath, DevicePlan: plan.DevicePlanPath,
		ModulesDir: plan.ModulesDir, SysRoot: "/sys", ProcRoot: "/proc", DevDir: "/dev",
		MountDir: "/run/takeover", Console: os.Stderr,
		FindTimeout: 30 * time.Second, PartitionTimeout: 10 * time.Second,
		SyncTimeout: 30 * time.Second, ProgressInterval: 5 * time.Second,
	}
}

// phaseFindDisk is the step that finds the target disk.
const phaseFindDisk = "finding disk"

// errPretend stops a pretend run before the first write.
var errPretend = errors.New("pretend: stopping before the first write")

// Run is stage2 after PID 1's setup: its steps, then the one ending: log
// the outcome, save the log, sync with a time limit and reboot. It returns
// the run's error (nil on success, also for pretend) once Reboot has
// returned, which on a real machine means the reboot failed.
func Run(ctx context.Context, sys System, cfg Config) error {
	r := &run{sys: sys, cfg: cfg, log: newLogger(cfg.Console, cfg.Kmsg)}
	if r.cfg.OpenImage == nil {
		r.cfg.OpenImage = openImage
	}
	r.log.marker("%s pid=%d", markerStart, os.Getpid())
	err := r.steps(ctx)
	r.end(err)
	if errors.Is(err, errPretend) {
		return nil
	}
	return err
}

// run is the state of one stage2 run.
type run struct {
	sys     System
	cfg     Config
	log     *logger
	phase   string
	payload *plan.Payload
	device  *plan.Device
	disk    string          // kernel name of the target disk
	parts   map[string]part // partitions of the flashed disk by plan name
	sha     string          // digest read back from the disk

	// written says the disk may have been changed: set before flashing
	// starts and cleared only if flashing reports it never wrote a byte.
	written bool
}

// steps runs stage2's steps in order, turning a panic into an error.
func (r *run) steps(ctx context.Context) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: panic: %v\n%s", r.phase, p, debug.Stack())
		}
	}()
	for _, s := range []struct {
		name string
		do   func(context.Context) error
	}{
		{"reading plan", r.readPlans},
		{"loading modules", r.loadModules},
		{"checking initramfs", r.checkInitramfs},
		{"checking payload", r.checkPayload},
		{"checking memory", r.checkMemory},
		{phaseFindDisk, r.findDisk},
		{"opening disk", r.tryDisk},
		{"flashing", r.flash},
		{"re-reading partitions", r.rereadPartitions},
		{"checking partitions", r.checkPartitions},
		{"writing files", r.writeFiles},
		{"setting up EFI", r.setupEFI},
	} {
		r.phase = s.name
		r.log.WithField("step", s.name).Info("step")
		if err := s.do(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// end reports the outcome, saves the log, syncs and reboots.
func (r *run) end(err error) {
	switch {
	case err == nil:
		r.log.Info("stage2 done, rebooting into balenaOS")
		r.log.marker(markerDone)
	case errors.Is(err, errPretend):
		r.log.Info(errPretend.Error())
		r.log.marker(markerPretendDone)
	default:
		r.log.WithError(err).Error("stage2 failed, rebooting")
		r.log.marker("%s phase=%s error=%s", markerFailed, strings.ReplaceAll(r.phase, " ", "-"),
			firstLine(err.Error()))
	}
	r.saveLog()
	r.syncWithin()
	if rerr := r.sys.Reboot(); rerr != nil {
		r.log.WithError(rerr).Error("reboot failed")
	}
}

// syncWithin flushes file systems but gives up waiting after SyncTimeout:
// a hung disk must not keep the machine from rebooting.
func (r *run) syncWithin() {
	done := make(chan struct{})
	go func() {
		r.sys.Sync()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(r.cfg.SyncTimeout):
		r.log.WithField("timeout", r.cfg.SyncTimeout).Warn("sync did not finish, rebooting anyway")
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
