package stage2init

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/takeover-dev/takeover/blockdev"
	"github.com/takeover-dev/takeover/plan"
)

// oldRootLogDir is where the log goes on the old root, as the old OS
// keeps its logs.
const oldRootLogDir = "var/log/takeover"

// saveToOldRoot writes the log into the old OS's root file system, when the
// plan names it and the disk was never written: after a refusal or a
// pretend run the machine boots the old OS again, which can then show why.
// It gives up after SyncTimeout, so a hung mount cannot hold the reboot.
func (r *run) saveToOldRoot() {
	if r.device == nil || r.device.OldRoot == nil {
		return // boot logged why there is none
	}
	if why := r.oldRootRefusal(); why != "" {
		r.log.WithField("reason", why).Info("log not saved to the old root")
		return
	}
	name := "stage2-" + time.Now().UTC().Format("20060102T150405Z") + ".log"
	rel := filepath.Join(oldRootLogDir, name)
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.SyncTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.writeOldRootLog(ctx, rel) }()
	select {
	case err := <-done:
		if err != nil {
			r.log.WithError(err).Warn("log not saved to the old root")
			return
		}
		r.log.WithField("file", "/"+rel).Info("log saved to the old root")
	case <-ctx.Done():
		r.log.WithField("timeout", r.cfg.SyncTimeout).
			Warn("saving the log to the old root did not finish, rebooting anyway")
	}
}

// oldRootRefusal says why the old root must not be touched, or "".
func (r *run) oldRootRefusal() string {
	switch old := r.device.OldRoot; {
	case r.written:
		return "the disk was written"
	case r.disk == "" && r.phase == phaseFindDisk:
		return "the disk was not found"
	case old.Partition <= 0 || old.FSType == "":
		return fmt.Sprintf("the plan names no partition and file system (partition %d, %q)",
			old.Partition, old.FSType)
	}
	return ""
}

// writeOldRootLog mounts the old root partition of the target disk and
// writes the log to rel in it.
func (r *run) writeOldRootLog(ctx context.Context, rel string) error {
	old := *r.device.OldRoot
	disk, err := r.oldRootDisk(ctx)
	if err != nil {
		return err
	}
	got, err := blockdev.Identify(r.cfg.SysRoot, disk)
	if err != nil {
		return err
	}
	if err := blockdev.Match(old, got); err != nil {
		return fmt.Errorf("checking the old root's disk: %w", err)
	}
	name, err := partitionName(r.cfg.SysRoot, disk, old.Partition)
	if err != nil {
		return err
	}
	dev := filepath.Join(r.cfg.DevDir, name)
	if err := waitPath(ctx, dev, r.cfg.PartitionTimeout); err != nil {
		return err
	}
	p := part{Partition: plan.Partition{Name: "oldroot", Number: old.Partition,
		FSType: old.FSType}, dev: dev}
	if err := r.appendLog(p, rel, 0o600); err != nil {
		return fmt.Errorf("writing %s into %s: %w", rel, name, err)
	}
	return nil
}

// oldRootDisk is the target disk: as found, or found now when the run
// ended before its step to find it.
func (r *run) oldRootDisk(ctx context.Context) (string, error) {
	if r.disk != "" {
		return r.disk, nil
	}
	name, err := blockdev.WaitFind(ctx, r.cfg.SysRoot, r.device.Disk, r.cfg.FindTimeout)
	if err != nil {
		return "", fmt.Errorf("finding the disk of the old root: %w", err)
	}
	return name, nil
}
