package stage1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"github.com/takeover-dev/takeover/configjson"
	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/initramfs"
	"github.com/takeover-dev/takeover/progress"
)

// BuildInitrd writes the portable payload archive. It checks nothing of
// the machine it runs on, so it may run offline on a workstation.
func BuildInitrd(ctx context.Context, o Options) error {
	if o.Output == "" {
		return exitcode.With(exitcode.Usage, fmt.Errorf("-o/--output is required: name the payload archive to write"))
	}
	if len(o.Wifis) > 0 {
		// It reads no Wi-Fi settings of this machine: --wifi would select nothing.
		return exitcode.With(exitcode.Usage, errors.New("--wifi: build-initrd reads no Wi-Fi "+
			"settings of this machine; pass the network as a keyfile with --nwmgr-cfg"))
	}
	log, cfg, err := start(o, configjson.Require{APIKey: o.Image == ""})
	if err != nil {
		return err
	}
	defer log.Close()

	img, err := obtainImage(ctx, o, cfg, log.Logger, 0)
	if err != nil {
		return err
	}

	spec, err := stagePayload(o, cfg, img, "", log.Logger)
	if err != nil {
		return err
	}
	defer spec.removeStage(log.Logger)

	return writePayload(spec, o.Output, log.Logger)
}

// writePayload streams the payload archive to out through a temporary file,
// synced and renamed only when complete.
func writePayload(spec *payloadSpec, out string, log logrus.FieldLogger) error {
	entries, err := initramfs.PayloadEntries(spec.input)
	if err != nil {
		return exitcode.With(exitcode.Initramfs, fmt.Errorf("listing payload archive entries: %w", err))
	}
	tmp := out + ".part"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return exitcode.With(exitcode.Initramfs, fmt.Errorf("creating %s: %w", tmp, err))
	}
	defer os.Remove(tmp) // a no-op after the rename

	c := &progress.Counter{}
	rep := progress.Start(log, c, progress.Options{Phase: "build-initrd", Total: spec.image.Size, TTY: tty(os.Stderr)})
	err = initramfs.WriteArchive(&countingFile{f: f, c: c}, entries)
	rep.Stop()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return exitcode.With(exitcode.Initramfs, fmt.Errorf("writing payload archive %s: %w", tmp, err))
	}
	if err := os.Rename(tmp, out); err != nil {
		return exitcode.With(exitcode.Initramfs, fmt.Errorf("renaming payload archive into %s: %w", out, err))
	}
	abs, _ := filepath.Abs(out)
	log.WithFields(logrus.Fields{"initramfs": abs, "image_sha256": spec.image.SHA256}).Info("payload archive written")
	return nil
}

// countingFile counts what is written to f. It keeps f's ReadFrom, so the
// image is copied file to file inside the kernel (copy_file_range) rather
// than through this process; progress then moves file by file.
type countingFile struct {
	f *os.File
	c *progress.Counter
}

func (w *countingFile) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.c.Add(n)
	return n, err
}

func (w *countingFile) ReadFrom(r io.Reader) (int64, error) {
	n, err := w.f.ReadFrom(r)
	w.c.Add(int(n))
	return n, err
}
