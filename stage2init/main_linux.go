package stage2init

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"time"

	"golang.org/x/sys/unix"
)

// memoryLimit makes the Go runtime collect hard before the kernel's OOM
// killer would take PID 1 (which panics the kernel).
const memoryLimit = 128 << 20

// hardTimeout ends a stuck run with a reboot. It is generous: flashing a
// 2 GiB image to a slow SD card three times takes well under an hour.
const hardTimeout = 2 * time.Hour

// Main is stage2 as PID 1. As PID 1 it never returns: success and failure
// both end in a reboot, and if rebooting fails it keeps trying. As any other
// process it refuses at once and returns the reason, for it would mount
// over /run and reboot the machine it runs on.
func Main() error {
	if pid := os.Getpid(); pid != 1 {
		return fmt.Errorf("refusing to run stage2 as process %d: it runs only as PID 1 "+
			"in the takeover initramfs", pid)
	}
	cfg := DefaultConfig()
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(os.Stderr, "%s phase=init error=panic: %v\n%s", markerFailed, p,
				debug.Stack())
		}
		rebootForever()
	}()
	for _, err := range setupPID1() {
		fmt.Fprintf(os.Stderr, "takeover: stage2 setup: %v\n", err)
	}
	if kmsg, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0); err == nil {
		cfg.Kmsg = kmsg
	}
	startWatchdog(cfg.SysRoot)
	time.AfterFunc(hardTimeout, func() {
		fmt.Fprintf(os.Stderr, "%s phase=timeout error=stage2 still running after %s\n",
			markerFailed, hardTimeout)
		rebootForever()
	})
	Run(context.Background(), linuxSystem{}, cfg) // its ending reboots and logs why
	return nil                                    // not reached: the deferred reboot loops
}

// rebootForever syncs briefly and reboots, again and again if it must.
func rebootForever() {
	done := make(chan struct{})
	go func() { unix.Sync(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
	}
	for {
		err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
		fmt.Fprintf(os.Stderr, "takeover: reboot failed, trying again: %v\n", err)
		time.Sleep(5 * time.Second)
	}
}

// setupPID1 prepares what the kernel leaves to init: file systems, the
// console, signals and the reaping of orphans. It returns what went wrong
// and goes on: stage2 then fails at the step that needs the missing part.
func setupPID1() []error {
	var errs []error
	unix.Umask(0) // plan.File modes are applied as given
	debug.SetMemoryLimit(memoryLimit)
	for _, m := range []struct{ src, dir, typ, data string }{
		{"proc", "/proc", "proc", ""},
		{"sysfs", "/sys", "sysfs", ""},
		{"devtmpfs", "/dev", "devtmpfs", "mode=0755"},
		{"tmpfs", "/run", "tmpfs", "mode=0755"},
	} {
		if err := mountEarly(m.src, m.dir, m.typ, m.data); err != nil {
			errs = append(errs, err)
		}
	}
	if err := openConsole(); err != nil {
		errs = append(errs, err)
	}
	handleSignals()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF); err != nil {
		errs = append(errs, fmt.Errorf("turning Ctrl-Alt-Del into a signal: %w", err))
	}
	return errs
}

func mountEarly(src, dir, typ, data string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if typ == "devtmpfs" {
		flags = unix.MS_NOSUID
	}
	err := unix.Mount(src, dir, typ, flags, data)
	if err != nil && !errors.Is(err, unix.EBUSY) { // EBUSY: already mounted (init swap)
		return fmt.Errorf("mounting %s on %s: %w", typ, dir, err)
	}
	return nil
}

// openConsole puts /dev/console on stdin, stdout and stderr.
func openConsole() error {
	fd, err := unix.Open("/dev/console", unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("opening /dev/console: %w", err)
	}
	for _, to := range []int{0, 1, 2} {
		if err := unix.Dup3(fd, to, 0); err != nil && fd != to {
			return fmt.Errorf("putting /dev/console on fd %d: %w", to, err)
		}
	}
	if fd > 2 {
		unix.Close(fd)
	}
	return nil
}

// handleSignals keeps terminating signals from killing PID 1 (the kernel
// would panic) and reaps orphaned children on SIGCHLD.
func handleSignals() {
	ignored := make(chan os.Signal, 8)
	signal.Notify(ignored, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT,
		unix.SIGUSR1, unix.SIGUSR2, unix.SIGPIPE, unix.SIGALRM, unix.SIGPWR)
	go func() {
		for s := range ignored {
			fmt.Fprintf(os.Stderr, "takeover: stage2 ignores signal %v\n", s)
		}
	}()
	child := make(chan os.Signal, 8)
	signal.Notify(child, unix.SIGCHLD)
	go func() {
		for range child {
			reap()
		}
	}()
}

// reap collects every exited child without blocking.
func reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
