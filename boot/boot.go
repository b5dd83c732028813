// Package boot is `takeover boot`: it adds the device archive (kernel
// modules, target disk identity) to the payload archive, loads the running
// kernel with that initramfs through kexec, and hands the machine to stage2.
// It decides what to boot; package kexec does the syscalls.
package boot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"
	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/initswap"
	"github.com/takeover-dev/takeover/kexec"
)

// Options are the settings of `takeover boot`.
type Options struct {
	Initrd  string // payload archive from build-initrd
	Kernel  string // kernel image to boot; "" finds the running kernel's
	FlashTo string // disk stage2 flashes, e.g. /dev/sda; "" is the disk holding /
	LogTo   string // device stage2 saves its log to, e.g. /dev/sdb1; "" for none
	WorkDir string // where the combined initramfs is written: on a disk, not tmpfs
	Pretend bool   // load the kexec image, then unload it: nothing changes
	Root    string // file system root for /boot and /lib/modules; "/" when empty
	SysRoot string // sysfs, "/sys" when empty
	// ProcRoot is procfs, "/proc" when empty.
	ProcRoot string
	Log      logrus.FieldLogger

	// BeforeJump, when set, runs once the kernel has accepted the image (or
	// the init swap is ready), right before the machine is handed over; not
	// with Pretend. Its error stops the boot with the old OS untouched.
	BeforeJump func() error
}

func (o Options) withDefaults() Options {
	if o.Root == "" {
		o.Root = "/"
	}
	if o.SysRoot == "" {
		o.SysRoot = "/sys"
	}
	if o.ProcRoot == "" {
		o.ProcRoot = "/proc"
	}
	if o.WorkDir == "" {
		o.WorkDir = "/var/tmp"
	}
	if o.Log == nil {
		o.Log = logrus.New()
	}
	return o
}

// prepared is what kexec loads.
type prepared struct {
	kernel   string   // kernel image path
	initrd   string   // combined initramfs
	cmdline  string   // command line of the kernel stage2 runs under
	removals []string // files made for the load, removed after it
}

func (p *prepared) cleanup(log logrus.FieldLogger) {
	for _, f := range p.removals {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			log.WithError(err).WithField("file", f).Warn("cannot remove temporary file")
		}
	}
	p.removals = nil
}

// Run boots stage2: identify the disks, build the combined initramfs, find
// the kernel, size the rootfs, build the command line, load, and jump (or,
// with Pretend, unload). Until it jumps nothing on the machine changes; a
// refused kexec leaves the old OS running.
func Run(ctx context.Context, o Options) error {
	o = o.withDefaults()
	devs, err := openDevices(o)
	if err != nil {
		return exitcode.With(exitcode.Boot, err)
	}
	defer devs.close()

	p, err := prepare(o, devs)
	if p != nil {
		defer p.cleanup(o.Log)
	}
	if err != nil {
		return exitcode.With(exitcode.Boot, err)
	}
	if err := ctx.Err(); err != nil {
		return exitcode.With(exitcode.Interrupted, fmt.Errorf("before loading kexec: %w", err))
	}

	if err := kexec.Load(p.kernel, p.initrd, p.cmdline, o.Log); err != nil {
		return initSwap(ctx, o, p.initrd, err)
	}
	p.cleanup(o.Log) // the kernel holds its own copies now

	if o.Pretend {
		return unloadPretend(o.Log)
	}
	if err := ctx.Err(); err != nil {
		return exitcode.With(exitcode.Interrupted, unloadAfter("before jumping", err))
	}
	if o.BeforeJump != nil {
		if err := o.BeforeJump(); err != nil {
			return exitcode.With(exitcode.Boot, unloadAfter("before jumping", err))
		}
	}
	err = kexec.Jump(o.Log)
	if errors.Is(err, kexec.ErrShutdownStarted) {
		// The shutdown owns the loaded image now; unloading it would turn
		// the kexec into a plain reboot into the old OS halfway through.
		return exitcode.With(exitcode.Boot, fmt.Errorf("jumping into stage2: %w", err))
	}
	return exitcode.With(exitcode.Boot, unloadAfter("jumping into stage2", err))
}

// prepare does every step up to the load. The files it made are in the
// result's removals, also on error.
func prepare(o Options, devs *devices) (*prepared, error) {
	release, err := kexec.Release(o.ProcRoot)
	if err != nil {
		return nil, err
	}
	dev, mods, err := devicePlan(o, devs, release)
	if err != nil {
		return nil, err
	}

	p := &prepared{}
	p.initrd, err = writeInitrd(o, mods, dev)
	if err != nil {
		return p, exitcode.With(exitcode.Initramfs, err)
	}
	p.removals = append(p.removals, p.initrd)

	if p.kernel, err = kernel(o, release); err != nil {
		return p, err
	}

	ramfs, err := chooseRootfs(o, p.initrd)
	if err != nil {
		return p, err
	}
	current, err := os.ReadFile(filepath.Join(o.ProcRoot, "cmdline"))
	if err != nil {
		return p, fmt.Errorf("reading the running kernel's command line: %w", err)
	}
	p.cmdline = kexec.Cmdline(string(current), kexec.CmdlineOptions{Ramfs: ramfs})
	o.Log.WithFields(logrus.Fields{"cmdline": p.cmdline, "ramfs": ramfs}).
		Info("command line for stage2")
	return p, nil
}

// kernel finds the running kernel's image. kexec.Load unwraps a compressed
// one beside the initramfs, in the work directory, if the kernel wants.
func kernel(o Options, release string) (string, error) {
	path, err := kexec.FindKernel(o.Root, release, o.Kernel, o.Log)
	if err != nil {
		return "", err
	}
	o.Log.WithFields(logrus.Fields{"kernel": path, "release": release}).
		Info("found the running kernel")
	return path, nil
}

// chooseRootfs sizes the initramfs against the memory of the machine.
func chooseRootfs(o Options, initrd string) (bool, error) {
	st, err := os.Stat(initrd)
	if err != nil {
		return false, fmt.Errorf("sizing initramfs: %w", err)
	}
	total, available, err := kexec.MemInfo(o.ProcRoot)
	if err != nil {
		return false, err
	}
	return kexec.ChooseRootfs(st.Size(), total, available)
}

// initSwap boots stage2 by the init swap when the kernel cannot or will not
// kexec (loadErr); any other load error stops the run, the old OS untouched.
// With Pretend the swap is only checked.
func initSwap(ctx context.Context, o Options, combined string, loadErr error) error {
	explained := kexec.Explain(loadErr)
	why, ok := initswap.FallBack(loadErr)
	if !ok {
		return exitcode.With(exitcode.Boot,
			fmt.Errorf("kexec refused, the old OS is untouched: %w", explained))
	}
	o.Log.WithError(explained).WithField("reason", why).
		Warn("kexec refused: falling back to the init swap")
	err := initswap.Prepare(ctx, initswap.Options{Combined: combined, Pretend: o.Pretend,
		Log: o.Log, Root: o.Root, ProcRoot: o.ProcRoot, BeforeSwitch: o.BeforeJump})
	if err != nil {
		return exitcode.With(exitcode.Boot, fmt.Errorf("kexec refused (%w) and the init swap "+
			"failed, the old OS keeps running: %w", explained, err))
	}
	return nil
}

func unloadPretend(log logrus.FieldLogger) error {
	if err := kexec.Unload(); err != nil {
		return exitcode.With(exitcode.Boot, fmt.Errorf("pretend: %w", err))
	}
	log.Info("kexec pretend: the kernel accepted the image; unloaded")
	return nil
}

// unloadAfter unloads the kexec image after err stopped the jump, so a
// later reboot is an ordinary one, and says so in the error.
func unloadAfter(step string, err error) error {
	if uerr := kexec.Unload(); uerr != nil {
		return fmt.Errorf("%s: %w (and %v)", step, err, uerr)
	}
	return fmt.Errorf("%s: %w; the kexec image is unloaded", step, err)
}
