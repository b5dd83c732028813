package stage1

import (
	"context"
	"errors"
	"io"

	"github.com/sirupsen/logrus"

	"github.com/takeover-dev/takeover/configjson"
	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/kexec"
	"github.com/takeover-dev/takeover/plan"
	"github.com/takeover-dev/takeover/preflight"
)

// Check runs every preflight check, changes nothing and prints a report.
func Check(ctx context.Context, o Options, w io.Writer) error {
	log, cfg, err := start(o, configjson.Require{VPN: !o.NoVPNCheck})
	if err != nil {
		return err
	}
	defer log.Close()
	disk, diskErr := targetDisk(o)
	if diskErr != nil {
		log.WithError(diskErr).Warn("target disk unknown; the disk checks are skipped")
	}
	var img *plan.Image
	if o.Image != "" {
		if img, err = obtainImage(ctx, o, cfg, log.Logger, disk.Size); err != nil {
			return err
		}
	}
	if err := runPreflight(ctx, o, cfg, disk, img, log.Logger, w); err != nil {
		return err
	}
	return diskErr // the migration would stop there: check must not pass
}

// runPreflight runs the checks; it prints the report to w when w is set,
// and fails when any check failed.
func runPreflight(ctx context.Context, o Options, cfg *configjson.Config, disk plan.DiskIdentity,
	img *plan.Image, log logrus.FieldLogger, w io.Writer) error {
	client, err := apiClient(cfg, log)
	if err != nil {
		return err
	}
	rep := preflight.Run(ctx, preflight.Options{
		Root: "/", DeviceType: slug(o, cfg), APIEndpoint: cfg.APIEndpoint,
		APIPing: func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, o.Timeout())
			defer cancel()
			return client.Ping(ctx)
		},
		VPNEndpoint: cfg.VPNEndpoint, VPNPort: cfg.VPNPort, Timeout: o.Timeout(),
		NoOSCheck: o.NoOSCheck, NoDTCheck: o.NoDTCheck, NoAPICheck: o.NoAPICheck, NoVPNCheck: o.NoVPNCheck,
		NeedRoot: true, TargetDisk: disk.Name, TargetDiskSize: disk.Size,
		ImageRawSize: imageRaw(img), MinMemory: memoryNeed(img), Log: log,
	})
	switch {
	case w != nil && o.JSON:
		err = rep.WriteJSON(w)
	case w != nil:
		err = rep.WriteTable(w)
	default:
		for _, c := range rep.Checks {
			log.WithFields(logrus.Fields{"check": c.Name, "status": c.Status, "detail": c.Detail}).Info("preflight")
		}
	}
	if err != nil {
		return err
	}
	if rep.Failed() {
		return exitcode.With(exitcode.Preflight, errors.New("preflight checks failed; see the report for each fix"))
	}
	return nil
}

func imageRaw(img *plan.Image) int64 {
	if img == nil {
		return 0
	}
	return img.RawSize
}

// memoryNeed estimates the RAM the old OS needs to load the initramfs:
// kexec_file_load holds the payload twice for a moment (the file's pages
// and the kernel's copy), plus the stage2 binary and a working margin.
// boot checks the exact figure again once the archive exists.
func memoryNeed(img *plan.Image) int64 {
	if img == nil {
		return 0
	}
	const binaryAndFiles = 32 << 20
	return 2*(img.Size+binaryAndFiles) + kexec.RootfsMargin
}
