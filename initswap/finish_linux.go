package initswap

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// finish is /init in the new root, still PID 1: it stops the old OS's
// processes and unmounts the old root, so that stage2 finds the machine as
// after a kexec. It reboots on failure.
func finish() {
	os.Unsetenv(envFinish)
	p := newPID1("/dev")
	p.log.Info("in the new root: stopping the old OS")
	err := os.MkdirAll("/proc", 0o755)
	if err == nil {
		err = unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	}
	if err != nil {
		p.rebootAfter("mounting /proc in the new root", err)
	}
	p.stopProcesses()
	mounts, err := p.unmountOldRoot()
	if err != nil {
		p.rebootAfter("unmounting the old root", err)
	}
	// TODO: a root on LVM, dm-crypt or a loop device leaves that device
	// holding the disk after the unmount; it is not torn down here, so
	// stage2 refuses the busy disk and reboots into the old OS.
	p.waitReleased(blockDevices(mounts))
	if err := unix.Unmount("/proc", 0); err != nil {
		p.log.WithError(err).Warn("cannot unmount /proc before stage2")
	}
	p.log.Info("the old OS is stopped and its disks unmounted: starting stage2")
}

// stopProcesses asks every other process to end, waits, then kills what is
// left and waits again, reaping the children PID 1 inherits.
func (p *pid1) stopProcesses() {
	for _, round := range []struct {
		sig  unix.Signal
		wait time.Duration
	}{{unix.SIGTERM, termWait}, {unix.SIGKILL, killWait}} {
		if err := unix.Kill(-1, round.sig); err != nil && !errors.Is(err, unix.ESRCH) {
			p.log.WithError(err).WithField("signal", round.sig).Warn("kill(-1) failed")
		}
		left := waitGone(round.wait)
		if len(left) == 0 {
			p.log.WithField("signal", round.sig).Info("every other process has ended")
			return
		}
		p.log.WithFields(logrus.Fields{"signal": round.sig, "left": fmt.Sprint(left)}).
			Warn("processes still running")
	}
}

// waitGone reaps children until no user process is left or wait passes,
// and returns those left.
func waitGone(wait time.Duration) []process {
	deadline := time.Now().Add(wait)
	for {
		reapAll()
		left, err := userProcesses("/proc")
		if err != nil || len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func reapAll() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

// unmountOldRoot unmounts everything at and under the old root, deepest
// first; what refuses (still busy) is detached. It returns the mounts it
// found.
func (p *pid1) unmountOldRoot() ([]mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	all, err := parseMountinfo(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	old := under(all, oldRootDir)
	for _, m := range old {
		err := unix.Unmount(m.Point, 0)
		if err == nil {
			p.log.WithField("mount", m.String()).Debug("unmounted")
			continue
		}
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			continue // gone with a parent detached before it
		}
		derr := unix.Unmount(m.Point, unix.MNT_DETACH)
		p.log.WithFields(logrus.Fields{"mount": m.String(), "busy": err, "detach": derr}).
			Warn("mount busy: detached it")
	}
	if rest := stillMounted(oldRootDir); len(rest) > 0 {
		return old, fmt.Errorf("still mounted under %s: %s", oldRootDir, strings.Join(rest, ", "))
	}
	return old, nil
}

// stillMounted lists the mount points at or under dir.
func stillMounted(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return []string{err.Error()}
	}
	defer f.Close()
	all, err := parseMountinfo(f)
	if err != nil {
		return []string{err.Error()}
	}
	var points []string
	for _, m := range under(all, dir) {
		points = append(points, m.String())
	}
	return points
}

// waitReleased waits until the block devices the old root was mounted
// from can be opened exclusively (a detached mount keeps its disk until
// its last user is gone). stage2 opens its disk exclusively too, and is
// the judge: what is still busy here is logged, and stage2 goes on.
func (p *pid1) waitReleased(devs []mount) {
	deadline := time.Now().Add(releaseWait)
	for _, d := range devs {
		for {
			err := openExclusive(d.Major, d.Minor)
			if err == nil {
				p.log.WithField("device", d.String()).Info("old disk released")
				break
			}
			if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
				p.log.WithError(err).WithField("device", d.String()).
					Warn("old disk still in use")
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// openExclusive opens the block device major:minor with O_EXCL, through a
// node made for it in /tmp (the new root has no /dev of devices yet).
func openExclusive(major, minor uint32) error {
	node := filepath.Join("/tmp", fmt.Sprintf(".initswap-%d-%d", major, minor))
	_ = os.Remove(node)
	if err := unix.Mknod(node, unix.S_IFBLK|0o600, int(unix.Mkdev(major, minor))); err != nil {
		return fmt.Errorf("mknod %s b %d %d: %w", node, major, minor, err)
	}
	defer os.Remove(node)
	fd, err := unix.Open(node, unix.O_RDONLY|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %d:%d exclusively: %w", major, minor, err)
	}
	return unix.Close(fd)
}
