package stage1

import (
	"context"
	"fmt"
	"os"

	"github.com/sirupsen/logrus"

	"github.com/takeover-dev/takeover/balenaapi"
	"github.com/takeover-dev/takeover/configjson"
	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/fetch"
	"github.com/takeover-dev/takeover/image"
	"github.com/takeover-dev/takeover/plan"
)

// Download fetches and validates an image without any device check, so it
// works on any machine and for any architecture.
func Download(ctx context.Context, o Options) error {
	log, cfg, err := start(o, configjson.Require{APIKey: o.Image == ""})
	if err != nil {
		return err
	}
	defer log.Close()
	img, err := obtainImage(ctx, o, cfg, log.Logger, 0)
	if err != nil {
		return err
	}
	log.WithFields(logrus.Fields{"image": img.Path, "sha256": img.SHA256, "raw_bytes": img.RawSize}).
		Info("image downloaded and validated")
	return nil
}

// obtainImage takes -i or downloads the image, then validates it: every
// byte decompressed once, digests recorded, partition table checked.
// maxRaw is the target disk's size, 0 when unknown.
func obtainImage(ctx context.Context, o Options, cfg *configjson.Config, log logrus.FieldLogger,
	maxRaw int64) (*plan.Image, error) {
	path, downloaded := o.Image, false
	if path == "" {
		var err error
		if path, err = downloadImage(ctx, o, cfg, log); err != nil {
			return nil, err
		}
		downloaded = true
	}
	img, err := image.Validate(ctx, path, image.Options{MaxRawSize: maxRaw, Log: log, TTY: tty(os.Stderr)})
	if err != nil {
		if downloaded {
			// A download that is no valid image is worth nothing; the user's
			// own -i file is never removed.
			os.Remove(path)
			os.Remove(fetch.SidecarPath(path))
		}
		return nil, exitcode.With(exitcode.Fetch, err) // it names the image and the step
	}
	return img, nil
}

func downloadImage(ctx context.Context, o Options, cfg *configjson.Config, log logrus.FieldLogger) (string, error) {
	if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
		return "", exitcode.With(exitcode.Fetch, fmt.Errorf("creating work directory: %w", err))
	}
	client, err := apiClient(cfg, log)
	if err != nil {
		return "", err
	}
	path, version, err := fetch.Image(ctx, fetch.Options{
		Client: client, DeviceType: slug(o, cfg), Version: o.Version, WorkDir: o.WorkDir,
		Log: log, TTY: tty(os.Stderr), Retries: 5,
	})
	if err != nil {
		return "", exitcode.With(exitcode.Fetch, fmt.Errorf("downloading image: %w", err))
	}
	log.WithFields(logrus.Fields{"image": path, "version": version}).Info("image ready")
	return path, nil
}

func apiClient(cfg *configjson.Config, log logrus.FieldLogger) (*balenaapi.Client, error) {
	c, err := balenaapi.New(balenaapi.Options{
		Endpoint: cfg.APIEndpoint, APIKey: cfg.APIKey, RootCA: cfg.RootCA,
		Log: log, // the client's own default bounds each call and any stalled download
	})
	if err != nil {
		return nil, exitcode.With(exitcode.Config, fmt.Errorf("setting up the balena API client: %w", err))
	}
	return c, nil
}
