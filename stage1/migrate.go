package stage1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/takeover-dev/takeover/blockdev"
	"github.com/takeover-dev/takeover/boot"
	"github.com/takeover-dev/takeover/configjson"
	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/plan"
)

// Migrate runs the whole migration, as the original tool's main command:
// check, fetch and validate, stage, pack, confirm, boot into stage2.
func Migrate(ctx context.Context, o Options) (err error) {
	if o.DownloadOnly {
		return Download(ctx, o)
	}
	if err := o.CheckBlockDevices(); err != nil {
		return err
	}
	log, cfg, err := start(o, configjson.Require{APIKey: o.Image == "", VPN: !o.NoVPNCheck})
	if err != nil {
		return err
	}
	defer log.Close()

	disk, err := targetDisk(o)
	if err != nil {
		return err
	}
	log.WithFields(logrus.Fields{"disk": disk.Name, "bytes": disk.Size}).Info("target disk")

	if err := runPreflight(ctx, o, cfg, disk, nil, log.Logger, nil); err != nil {
		return err
	}
	var dtChange *deviceTypeChange
	if o.ChangeDTTo != "" && !o.Pretend {
		if dtChange, err = newDeviceTypeChange(ctx, cfg, o.ChangeDTTo, log.Logger); err != nil {
			return err
		}
	}

	img, err := obtainImage(ctx, o, cfg, log.Logger, disk.Size)
	if err != nil {
		return err
	}

	spec, err := stagePayload(o, cfg, img, "/", log.Logger)
	if err != nil {
		return err
	}
	payload := filepath.Join(o.WorkDir, "takeover-payload.cpio")
	defer func() { cleanup(err, o, spec, payload, log.Logger) }()

	if err := writePayload(spec, payload, log.Logger); err != nil {
		return err
	}

	if err := confirm(o, disk, os.Stdin, os.Stderr); err != nil {
		return err
	}

	bo := bootOptions(o, payload, log.Logger)
	if dtChange != nil {
		bo.BeforeJump = dtChange.apply
	}
	return boot.Run(ctx, bo)
}

// cleanup removes what the migration staged in the work directory once it
// is of no use: the staging directory always (the payload archive holds
// it all), the payload archive when the run failed, unless --no-cleanup.
// The downloaded image stays: its digest sidecar lets a rerun reuse it.
func cleanup(err error, o Options, spec *payloadSpec, payload string, log logrus.FieldLogger) {
	if err != nil && o.NoCleanup {
		log.WithField("dir", o.WorkDir).Info("--no-cleanup: staged files kept")
		return
	}
	spec.removeStage(log)
	if err != nil {
		if rerr := os.Remove(payload); rerr != nil && !os.IsNotExist(rerr) {
			log.WithError(rerr).WithField("file", payload).Warn("cannot remove payload archive")
		}
	}
}

// Boot adds the device archive to a payload archive and kexecs into it.
func Boot(ctx context.Context, o Options) error {
	if o.Initrd == "" {
		return exitcode.With(exitcode.Usage, errors.New("--initrd is required: the payload archive from build-initrd"))
	}
	if err := readableFile(o.Initrd); err != nil {
		return exitcode.With(exitcode.Usage, fmt.Errorf("--initrd: %w", err))
	}
	if err := o.CheckBlockDevices(); err != nil {
		return err
	}
	log, err := newLogger(o)
	if err != nil {
		return err
	}
	defer log.Close()
	if !o.Pretend {
		disk, err := targetDisk(o)
		if err != nil {
			return err
		}
		if err := confirm(o, disk, os.Stdin, os.Stderr); err != nil {
			return err
		}
	}
	payload, err := openPayload(o.Initrd)
	if err != nil {
		return err
	}
	defer payload.Close()
	bo := bootOptions(o, o.Initrd, log.Logger)
	bo.Pretend = o.Pretend
	if !o.Pretend {
		dtChange, err := payloadDeviceTypeChange(ctx, payload, log.Logger)
		if err != nil {
			return err
		}
		if dtChange != nil {
			bo.BeforeJump = dtChange.apply
		}
	}
	return boot.Run(ctx, bo)
}

// bootOptions are boot's options for a real jump. The migration's own
// --pretend is carried by the plan (stage2 stops before writing), so the
// kexec itself happens.
func bootOptions(o Options, initrd string, log logrus.FieldLogger) boot.Options {
	return boot.Options{
		Initrd: initrd, Kernel: o.Kernel, FlashTo: o.FlashTo, LogTo: o.LogTo,
		WorkDir: o.WorkDir, SysRoot: "/sys", ProcRoot: "/proc", Log: log,
	}
}

// targetDisk identifies --flash-to, or the disk holding /.
func targetDisk(o Options) (plan.DiskIdentity, error) {
	name := strings.TrimPrefix(o.FlashTo, "/dev/")
	if name == "" {
		var err error
		if name, err = blockdev.RootDisk("/proc", "/sys"); err != nil {
			return plan.DiskIdentity{}, exitcode.With(exitcode.Preflight,
				fmt.Errorf("finding the disk holding / (pass -f/--flash-to): %w", err))
		}
	}
	id, err := blockdev.Identify("/sys", filepath.Base(name))
	if err != nil {
		return plan.DiskIdentity{}, exitcode.With(exitcode.Preflight, fmt.Errorf("identifying target disk: %w", err))
	}
	return id, nil
}

// confirm asks the person at the terminal to type the disk's name, unless
// --no-ack. Without a terminal it refuses rather than guess.
func confirm(o Options, disk plan.DiskIdentity, in io.Reader, out io.Writer) error {
	if o.NoAck {
		return nil
	}
	if f, ok := in.(*os.File); ok && tty(f) == nil {
		return exitcode.With(exitcode.Interrupted,
			errors.New("no terminal to confirm on; pass --no-ack to migrate without confirmation"))
	}
	fmt.Fprintf(out, "takeover will ERASE /dev/%s (%d bytes, %s) and install balenaOS.\n"+
		"Type the disk name (%s) to go on: ", disk.Name, disk.Size, disk.Model, disk.Name)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return exitcode.With(exitcode.Interrupted, fmt.Errorf("reading confirmation: %w", err))
	}
	if strings.TrimSpace(line) != disk.Name {
		return exitcode.With(exitcode.Interrupted, errors.New("not confirmed; nothing was changed"))
	}
	return nil
}
