package initswap

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Prepare is the stage1 half of the init swap: it checks that the swap can
// work, unpacks the combined initramfs into a tmpfs at Dir, turns swap
// off, bind-mounts the unpacked /init over PID 1's executable and makes
// PID 1 re-execute, which starts EnterIfSwapped. Once PID 1 is takeover it
// waits to be stopped with the rest of the old OS. Anything that fails before
// the re-execution is undone and the old OS keeps running. With Pretend it
// checks and returns without changing anything.
func Prepare(ctx context.Context, o Options) (err error) {
	o = o.withDefaults()
	s := &swap{o: o, log: o.Log, dir: Dir}
	defer func() {
		if err != nil {
			s.undo()
		}
	}()
	l, err := s.check()
	if err != nil {
		return err
	}
	defer l.Close()
	if o.Pretend {
		s.log.Info("init swap pretend: every check passed; nothing changed")
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("before the init swap: %w", err)
	}

	if err := s.mountTmpfs(tmpfsSize(l.unpacked)); err != nil {
		return err
	}
	if err := s.fill(l); err != nil {
		return err
	}
	if err := s.swapoff(); err != nil {
		return err
	}
	if err := s.bindInit(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("before making PID 1 re-execute: %w", err)
	}
	if o.BeforeSwitch != nil {
		if err := o.BeforeSwitch(); err != nil {
			return fmt.Errorf("before making PID 1 re-execute: %w", err)
		}
	}
	unix.Sync()
	return s.reexec(ctx)
}

// swap is one run of Prepare and what it must undo on failure.
type swap struct {
	o     Options
	dir   string // the tmpfs, Dir
	log   logrus.FieldLogger
	init  initProcess
	undos []func() error
}

func (s *swap) onUndo(what string, f func() error) {
	s.undos = append(s.undos, func() error {
		if err := f(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	})
}

// undo reverts the steps done, last first, and logs what it cannot revert.
func (s *swap) undo() {
	for i := len(s.undos) - 1; i >= 0; i-- {
		if err := s.undos[i](); err != nil {
			s.log.WithError(err).Warn("cannot undo an init swap step")
		}
	}
	s.undos = nil
}

// check finds init and its re-exec tool, reads the initramfs and sizes it
// against the memory, all before anything changes.
func (s *swap) check() (*listing, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("checking the init swap: it needs root")
	}
	if err := sameMountNamespace(s.o.ProcRoot); err != nil {
		return nil, err
	}
	var err error
	if s.init, err = findInit(s.o.Root, s.o.ProcRoot); err != nil {
		return nil, fmt.Errorf("checking the init swap: %w", err)
	}
	s.log.WithFields(logrus.Fields{"init": s.init.Exe, "kind": s.init.Kind,
		"tool": s.init.Tool, "toolIsInit": s.init.ToolIsInit}).Info("found PID 1")
	l, err := openListing(s.o.Combined)
	if err != nil {
		return nil, fmt.Errorf("checking the init swap: %w", err)
	}
	err = checkNewInit(l)
	var mi memInfo
	if err == nil {
		mi, err = readMemInfo(s.o.ProcRoot)
	}
	if err == nil {
		err = checkMemory(mi, l.unpacked)
	}
	if err != nil {
		l.Close()
		return nil, err
	}
	s.log.WithFields(logrus.Fields{"unpacked": l.unpacked, "available": mi.Available,
		"tmpfs": tmpfsSize(l.unpacked)}).Info("the initramfs fits in memory")
	return l, nil
}

// sameMountNamespace refuses to run in another mount namespace than PID 1
// (a sandboxed service): PID 1 would not see the mounts.
func sameMountNamespace(procRoot string) error {
	self, err := os.Readlink(filepath.Join(procRoot, "self", "ns", "mnt"))
	if err != nil {
		return fmt.Errorf("reading this process's mount namespace: %w", err)
	}
	init, err := os.Readlink(filepath.Join(procRoot, "1", "ns", "mnt"))
	if err != nil {
		return fmt.Errorf("reading PID 1's mount namespace: %w", err)
	}
	if self != init {
		return fmt.Errorf("checking the init swap: takeover runs in mount namespace %s, "+
			"PID 1 in %s: run it from a login shell, not a sandboxed service", self, init)
	}
	return nil
}

// mountTmpfs mounts the tmpfs of the new root; it must be a mount point
// of its own for pivot_root.
func (s *swap) mountTmpfs(size int64) error {
	dir := s.dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) > 0 {
		return fmt.Errorf("mounting the init swap's tmpfs on %s: not an empty directory "+
			"(%v): a former run left it; unmount or remove it", dir, err)
	}
	data := "mode=0755,size=" + strconv.FormatInt(size, 10)
	if err := unix.Mount("takeover-swap", dir, "tmpfs", unix.MS_NOSUID, data); err != nil {
		os.Remove(dir)
		return fmt.Errorf("mounting tmpfs (%s) on %s: %w", data, dir, err)
	}
	s.onUndo("unmounting "+dir, func() error {
		if err := unix.Unmount(dir, 0); err != nil {
			return err
		}
		return os.Remove(dir)
	})
	s.log.WithFields(logrus.Fields{"dir": dir, "bytes": size}).Info("mounted the new root")
	return nil
}

// fill unpacks the initramfs, checks its /init, adds what PID 1 needs and
// writes the marker last.
func (s *swap) fill(l *listing) error {
	dir := s.dir
	start := time.Now()
	if err := l.unpack(dir, mknodChar); err != nil {
		return fmt.Errorf("unpacking the initramfs into %s: %w", dir, err)
	}
	s.log.WithFields(logrus.Fields{"bytes": l.unpacked, "duration": time.Since(start)}).
		Info("unpacked the initramfs")
	if err := mknodChar(filepath.Join(dir, "dev", "kmsg"), 0o600, 1, 11); err != nil {
		return fmt.Errorf("creating /dev/kmsg in the new root: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, oldRootDir), 0o700); err != nil {
		return fmt.Errorf("creating %s in the new root: %w", oldRootDir, err)
	}
	if s.init.ToolIsInit {
		if err := s.copyTool(); err != nil {
			return err
		}
	}
	return writeMarker(dir, marker{NewRoot: dir, Init: s.init.Exe})
}

func mknodChar(path string, perm os.FileMode, major, minor uint32) error {
	dev := int(unix.Mkdev(major, minor))
	if err := unix.Mknod(path, unix.S_IFCHR|uint32(perm), dev); err != nil {
		return fmt.Errorf("mknod %s c %d %d: %w", path, major, minor, err)
	}
	return nil
}

// checkNewInit refuses an /init that this machine cannot run or that would
// not know swap mode (a takeover older than this package): as PID 1 it
// would run stage2 on the live disk.
func checkNewInit(l *listing) error {
	self, err := elf.Open("/proc/self/exe")
	if err != nil {
		return fmt.Errorf("reading this executable's ELF header: %w", err)
	}
	defer self.Close()
	init, err := l.readerAt("/init")
	if err != nil {
		return fmt.Errorf("checking the initramfs's /init: %w", err)
	}
	e, err := elf.NewFile(init)
	if err != nil {
		return fmt.Errorf("checking the initramfs's /init: %w", err)
	}
	if e.Machine != self.Machine || e.Class != self.Class {
		return fmt.Errorf("checking the initramfs's /init: built for %v %v, this machine "+
			"runs %v %v: build the payload for this architecture", e.Class, e.Machine,
			self.Class, self.Machine)
	}
	ok, err := knowsSwapMode(io.NewSectionReader(init, 0, 1<<62))
	if err != nil {
		return fmt.Errorf("checking the initramfs's /init: %w", err)
	}
	if !ok {
		return errors.New("checking the initramfs's /init: it is a takeover without the " +
			"init swap: build the payload with this takeover")
	}
	return nil
}

// copyTool copies a telinit that is the init binary itself into the new
// root, so that it still runs as telinit once takeover covers init.
func (s *swap) copyTool() error {
	src := filepath.Join(s.o.Root, s.init.Tool)
	dst := filepath.Join(s.dir, telinitDir, "telinit")
	b, err := os.ReadFile(src)
	if err == nil {
		err = os.MkdirAll(filepath.Dir(dst), 0o755)
	}
	if err == nil {
		err = os.WriteFile(dst, b, 0o755)
	}
	if err != nil {
		return fmt.Errorf("copying %s (it is init) to %s: %w", src, dst, err)
	}
	s.log.WithField("telinit", dst).Info("telinit is init: running a copy")
	s.init.Tool = dst
	return nil
}

// swapoff turns off every swap area: stage2 unmounts the disk they may be
// on. They are turned on again if the swap is undone.
func (s *swap) swapoff() error {
	areas, err := readSwaps(s.o.ProcRoot)
	if err != nil {
		return err
	}
	for _, a := range areas {
		p, err := unix.BytePtrFromString(a)
		if err != nil {
			return fmt.Errorf("turning off swap %s: %w", a, err)
		}
		if _, _, e := unix.Syscall(unix.SYS_SWAPOFF, uintptr(unsafe.Pointer(p)), 0, 0); e != 0 {
			return fmt.Errorf("turning off swap %s: %w", a, e)
		}
		s.log.WithField("swap", a).Info("turned off swap")
		s.onUndo("turning swap "+a+" on again", func() error {
			if _, _, e := unix.Syscall(unix.SYS_SWAPON, uintptr(unsafe.Pointer(p)), 0, 0); e != 0 {
				return e
			}
			return nil
		})
	}
	return nil
}

// bindInit mounts the unpacked /init over PID 1's executable.
func (s *swap) bindInit() error {
	src := filepath.Join(s.dir, "init")
	dst := filepath.Join(s.o.Root, s.init.Exe)
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mounting %s over %s: %w", src, dst, err)
	}
	s.onUndo("unmounting the bind mount over "+dst, func() error {
		return unix.Unmount(dst, 0)
	})
	s.log.WithFields(logrus.Fields{"from": src, "over": dst}).Info("takeover covers init")
	return nil
}

// reexec makes PID 1 re-execute and waits until PID 1 is takeover. Once
// the tool has asked init to re-execute, nothing is undone unless PID 1
// plainly did not become takeover.
func (s *swap) reexec(ctx context.Context) error {
	log := s.log.WithFields(logrus.Fields{"tool": s.init.Tool, "args": s.init.Args})
	log.Info("making PID 1 re-execute")
	run, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(run, s.init.Tool, s.init.Args...)
	if s.init.ToolIsInit {
		cmd.Args[0] = "telinit" // sysvinit acts as telinit by its name
	}
	out, runErr := cmd.CombinedOutput()
	if runErr != nil {
		log.WithError(runErr).WithField("output", strings.TrimSpace(string(out))).
			Warn("the re-exec tool failed; checking PID 1 anyway")
	}
	timeout := s.o.ReexecTimeout
	if runErr != nil {
		timeout = 5 * time.Second
	}
	if err := waitPID1(s.o.ProcRoot, timeout); err != nil {
		return fmt.Errorf("making PID 1 re-execute with %s %s: %w (tool: %v, output %q)",
			s.init.Tool, strings.Join(s.init.Args, " "), err, runErr,
			strings.TrimSpace(string(out)))
	}
	s.undos = nil // PID 1 owns the tmpfs and the bind mount now
	s.log.Info("PID 1 is takeover: the old OS stops now and stage2 starts")
	// Like a kexec jump, a successful swap does not return: PID 1 ends this
	// process with the rest of the old OS (SIGTERM is caught by main, so
	// SIGKILL does it). Returning would let the caller go on as if the old
	// OS were still there.
	time.Sleep(stopTimeout)
	return fmt.Errorf("PID 1 is takeover but has not stopped this process after %s: "+
		"see the console for what PID 1 is doing", stopTimeout)
}

// stopTimeout bounds the wait for PID 1 to stop stage1 after the swap.
const stopTimeout = 5 * time.Minute

// waitPID1 waits until PID 1 has taken takeover's command name.
func waitPID1(procRoot string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(filepath.Join(procRoot, "1", "comm"))
		if err == nil && strings.TrimSpace(string(b)) == pid1Name {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("PID 1 is still %q after %s", strings.TrimSpace(string(b)), timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
