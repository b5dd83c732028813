// Package fetch brings a balenaOS image into the work directory: it picks
// the version, asks whether the device type's default image is a flasher
// (and then downloads the raw image instead), and downloads through a
// .part file that is renamed only once every byte has arrived. It resumes
// with Range where the server allows, retries network errors and 5xx
// replies, checks free space first, and keeps a .sha256 sidecar so that a
// verified image is reused rather than downloaded again.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/takeover-dev/takeover/balenaapi"
	"github.com/takeover-dev/takeover/exitcode"
)

// Options say what to fetch and where.
type Options struct {
	Client     *balenaapi.Client
	DeviceType string // slug, e.g. intel-nuc
	Version    string // spec: "", default, latest, ~x.y[.z], ^x.y[.z] or exact
	WorkDir    string
	Log        logrus.FieldLogger
	TTY        io.Writer     // non-nil on a terminal: progress redraws one line
	Retries    int           // further attempts after a failed one
	MinFree    int64         // bytes that must stay free in WorkDir after the download
	Backoff    time.Duration // first pause between attempts, doubled each time; 0 means 2s
}

// maxBackoff caps the pause between attempts.
const maxBackoff = time.Minute

// Image fetches the image and returns its path and exact version. Errors
// are tagged exitcode.Fetch, or exitcode.Interrupted once ctx is done.
func Image(ctx context.Context, o Options) (path, version string, err error) {
	path, version, err = image(ctx, o)
	if err != nil && ctx.Err() != nil {
		return "", "", exitcode.With(exitcode.Interrupted, err)
	}
	return path, version, exitcode.With(exitcode.Fetch, err)
}

func image(ctx context.Context, o Options) (string, string, error) {
	if err := o.check(); err != nil {
		return "", "", err
	}
	log := o.Log.WithField("device-type", o.DeviceType)

	version, err := chooseVersion(ctx, o, log)
	if err != nil {
		return "", "", err
	}
	path := filepath.Join(o.WorkDir, FileName(o.DeviceType, version))
	log = log.WithFields(logrus.Fields{"version": version, "image": path})

	ok, err := reusable(path, log)
	if err != nil {
		return "", "", err
	}
	if ok {
		return path, version, nil
	}

	raw, err := o.Client.IsFlasher(ctx, o.DeviceType)
	if err != nil {
		return "", "", fmt.Errorf("fetching image: %w", err)
	}
	if raw {
		log.Info("device type installs with a flasher, downloading its raw image")
	}

	req := balenaapi.DownloadRequest{DeviceType: o.DeviceType, Version: version, Raw: raw}
	if err := download(ctx, o, req, path, log); err != nil {
		return "", "", fmt.Errorf("downloading image to %s: %w", path, err)
	}

	sum, err := writeSidecar(path)
	if err != nil {
		return "", "", err
	}
	log.WithField("sha256", sum).Info("image downloaded")
	return path, version, nil
}

// FileName is the image's name in the work directory, as the original
// takeover names it.
func FileName(slug, version string) string {
	return "balena-cloud-" + slug + "-" + version + ".img.gz"
}

func (o *Options) check() error {
	switch {
	case o.Client == nil:
		return errors.New("fetching image: no api client")
	case o.DeviceType == "":
		return errors.New("fetching image: no device type")
	case o.WorkDir == "":
		return errors.New("fetching image: no work directory")
	case o.Retries < 0 || o.MinFree < 0:
		return errors.New("fetching image: retries and free space must not be negative")
	}
	if o.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		o.Log = l
	}
	if o.Backoff <= 0 {
		o.Backoff = 2 * time.Second
	}
	if fi, err := os.Stat(o.WorkDir); err != nil {
		return fmt.Errorf("fetching image: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("fetching image: %s is not a directory", o.WorkDir)
	}
	return nil
}

// chooseVersion lists the versions of the device type and picks one.
func chooseVersion(ctx context.Context, o Options, log logrus.FieldLogger) (string, error) {
	versions, err := o.Client.OSVersions(ctx, o.DeviceType)
	if err != nil {
		return "", fmt.Errorf("choosing version: %w", err)
	}
	chosen, skipped, err := balenaapi.SelectVersion(versions, o.Version)
	for _, s := range skipped {
		log.WithField("version", s).Warn("skipping a version that is not semver")
	}
	if err != nil {
		return "", fmt.Errorf("choosing version of %s: %w", o.DeviceType, err)
	}
	log.WithFields(logrus.Fields{"spec": o.Version, "version": chosen,
		"listed": len(versions)}).Info("version chosen")
	return chosen, nil
}
