package initswap

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"
	"unsafe"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// envFinish tells the /init that PID 1 execs inside the new root to clear
// the old root before stage2 starts; its value is magic.
const envFinish = "TAKEOVER_INITSWAP"

// Bounds of stopping the old OS's processes.
const (
	termWait    = 5 * time.Second  // after SIGTERM
	killWait    = 5 * time.Second  // after SIGKILL
	releaseWait = 10 * time.Second // for the old root's disks to be free
)

// File system magics of statfs(2) for a root held in RAM.
const (
	tmpfsMagic = 0x01021994
	ramfsMagic = 0x858458f6
)

// EnterIfSwapped is the PID 1 half of the init swap; call it first thing
// when running as PID 1. It returns at once when this PID 1 was started
// by the kernel from an initramfs (after a kexec). When the old init has
// re-executed into takeover, it pivots into the new root and execs /init
// there; that /init's EnterIfSwapped stops every other process, unmounts
// the old root and returns, and stage2 follows. It never returns an error:
// a failure before pivot_root hands the machine back to the old init, one
// after it reboots (nothing is written before stage2).
func EnterIfSwapped() {
	if os.Getpid() != 1 {
		return
	}
	if os.Getenv(envFinish) == magic {
		finish()
		return
	}
	m, err := readMarker("/", Dir)
	if errors.Is(err, errNoMarker) {
		if onDiskRoot() {
			newPID1("/dev").rebootAfter("checking the root",
				errors.New("PID 1 on a disk root without a swap marker: refusing to run stage2 "+
					"on the live system"))
		}
		return
	}
	p := newPID1("/dev")
	if err != nil {
		p.backToOldInit(m, fmt.Errorf("reading the swap marker: %w", err))
	}
	p.enter(m)
}

// onDiskRoot reports whether / is something else than tmpfs or ramfs.
func onDiskRoot() bool {
	var st unix.Statfs_t
	if err := unix.Statfs("/", &st); err != nil {
		return false // cannot tell: let stage2 find its plan or fail
	}
	fsMagic := uint32(st.Type) // int32 on 32-bit ARM, int64 elsewhere
	return fsMagic != tmpfsMagic && fsMagic != ramfsMagic
}

// pid1 is the logging and the last resorts of PID 1 in swap mode.
type pid1 struct {
	log *logrus.Logger
}

// newPID1 makes PID 1 immune to terminating signals, names it for stage1,
// puts the console on stdin, stdout and stderr, and logs to the console and
// to the kernel log.
func newPID1(dev string) *pid1 {
	signal.Ignore(unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1,
		unix.SIGUSR2, unix.SIGPIPE, unix.SIGALRM, unix.SIGPWR, unix.SIGTSTP, unix.SIGTTIN,
		unix.SIGTTOU)
	name, _ := unix.BytePtrFromString(pid1Name)
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(name)), 0, 0, 0) // only a name
	var out []io.Writer
	console := filepath.Join(dev, "console")
	if fd, err := unix.Open(console, unix.O_RDWR|unix.O_NOCTTY, 0); err == nil {
		for _, to := range []int{0, 1, 2} {
			if fd != to {
				_ = unix.Dup3(fd, to, 0) // without a console, kmsg still logs
			}
		}
		if fd > 2 {
			unix.Close(fd)
		}
		out = append(out, os.Stderr)
	}
	if kmsg, err := os.OpenFile(filepath.Join(dev, "kmsg"), os.O_WRONLY, 0); err == nil {
		out = append(out, kmsg)
	}
	log := logrus.New()
	log.SetOutput(io.MultiWriter(out...))
	log.SetFormatter(&logrus.TextFormatter{DisableColors: true, DisableTimestamp: true})
	log.SetLevel(logrus.DebugLevel)
	return &pid1{log: log}
}

// enter is PID 1 on the old root: into the new root, then exec /init.
func (p *pid1) enter(m marker) {
	p.log.WithFields(logrus.Fields{"newRoot": m.NewRoot, "oldInit": m.Init}).
		Info("PID 1 is takeover: entering the new root")
	if err := pivot(m.NewRoot); err != nil {
		p.backToOldInit(m, err)
	}
	if err := closeInheritedFiles(); err != nil {
		p.rebootAfter("closing the old init's files", err)
	}
	env := append(os.Environ(), envFinish+"="+magic)
	err := unix.Exec("/init", []string{"/init"}, env)
	p.rebootAfter("executing /init in the new root", err)
}

// pivot makes every mount private (pivot_root refuses shared ones), then
// swaps the root for newRoot, with the old root at oldRootDir.
func pivot(newRoot string) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private (mount --make-rprivate /): %w", err)
	}
	if err := unix.Chdir(newRoot); err != nil {
		return fmt.Errorf("changing directory to %s: %w", newRoot, err)
	}
	if err := unix.PivotRoot(".", "."+oldRootDir); err != nil {
		return fmt.Errorf("pivot_root(%s, %s%s): %w", newRoot, newRoot, oldRootDir, err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("changing directory to the new root: %w", err)
	}
	return nil
}

// closeInheritedFiles marks close-on-exec every file the old init left
// open (its state, sockets, the journal): they would hold the old root.
// The Go runtime opens its own files close-on-exec already. Kernels before
// 5.11 lack close_range's CLOEXEC flag: there each descriptor is marked.
func closeInheritedFiles() error {
	if unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC) == nil {
		return nil
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("reading the open file limit: %w", err)
	}
	for fd := 3; uint64(fd) < min(lim.Cur, 1<<20); fd++ {
		_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC) // EBADF: not open
	}
	return nil
}

// backToOldInit hands the machine back to the old init when the swap fails
// before pivot_root: it uncovers the old init's executable and execs it
// with the arguments it re-executed with (systemd's --deserialize FD, its
// state, is still open). If that fails too, it reboots.
func (p *pid1) backToOldInit(m marker, err error) {
	p.log.WithError(err).Error("init swap failed before pivot_root: restarting the old init")
	if m.Init == "" {
		p.rebootAfter("finding the old init", errors.New("the swap marker names no init"))
	}
	if uerr := unix.Unmount(m.Init, unix.MNT_DETACH); uerr != nil {
		p.rebootAfter("uncovering the old init "+m.Init, uerr)
	}
	if m.NewRoot != "" && unix.Chdir("/") == nil {
		_ = unix.Unmount(m.NewRoot, unix.MNT_DETACH) // frees its RAM; the old OS runs either way
	}
	eerr := unix.Exec(m.Init, os.Args, os.Environ())
	p.rebootAfter("executing the old init "+m.Init, eerr)
}

// rebootAfter logs the failure, syncs briefly and reboots; it never
// returns.
func (p *pid1) rebootAfter(step string, err error) {
	p.log.WithError(err).WithField("step", step).
		Error("TAKEOVER-INITSWAP-FAILED: rebooting into the old OS, nothing was written")
	done := make(chan struct{})
	go func() { unix.Sync(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
	}
	for {
		err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
		p.log.WithError(err).Error("reboot failed, trying again")
		time.Sleep(5 * time.Second)
	}
}
