package stage1

import (
	"context"
	"errors"
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/takeover-dev/takeover/balenaapi"
	"github.com/takeover-dev/takeover/configjson"
	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/plan"
)

// deviceTypeChange is the --change-dt-to call to the balena API. stage2
// runs with no network, so the call is made by stage1 at the last moment:
// after the kernel accepted the initramfs, right before the jump. If stage2
// then fails before writing, the old OS comes back with the new device type
// already set in balena; takeover logs that, and a rerun sets it again.
type deviceTypeChange struct {
	ctx    context.Context
	client *balenaapi.Client
	uuid   string
	slug   string
	id     int64
	log    logrus.FieldLogger
}

// newDeviceTypeChange checks that the change can be made (a registered
// device, a known device type) before anything else happens.
func newDeviceTypeChange(ctx context.Context, cfg *configjson.Config, slug string,
	log logrus.FieldLogger) (*deviceTypeChange, error) {
	if cfg.UUID == "" {
		return nil, exitcode.With(exitcode.Config, errors.New(
			"--change-dt-to needs the device's uuid in config.json: use the config.json of a registered device"))
	}
	client, err := apiClient(cfg, log)
	if err != nil {
		return nil, err
	}
	id, err := client.DeviceTypeID(ctx, slug)
	if err != nil {
		return nil, exitcode.With(exitcode.Preflight, fmt.Errorf("looking up device type %s: %w", slug, err))
	}
	return &deviceTypeChange{ctx: ctx, client: client, uuid: cfg.UUID, slug: slug, id: id, log: log}, nil
}

// apply PATCHes the device; boot calls it right before the jump.
func (c *deviceTypeChange) apply() error {
	if err := c.client.PatchDevice(c.ctx, c.uuid, map[string]any{"is_of__device_type": c.id}); err != nil {
		return fmt.Errorf("changing the device type to %s in balena: %w", c.slug, err)
	}
	c.log.WithFields(logrus.Fields{"device_type": c.slug, "uuid": c.uuid}).
		Warn("device type changed in balena; if stage2 stops before writing, run takeover again")
	return nil
}

// payloadDeviceTypeChange returns the change a payload's plan asks for,
// or nil when it asks for none or is a pretend run.
func payloadDeviceTypeChange(ctx context.Context, p *payloadArchive, log logrus.FieldLogger) (*deviceTypeChange, error) {
	opt := p.plan.Options
	if opt.ChangeDTTo == "" || opt.Pretend {
		return nil, nil
	}
	data, err := p.read(plan.ConfigJSONPath)
	if err != nil {
		return nil, err
	}
	cfg, err := configjson.Parse(data)
	if err != nil {
		return nil, exitcode.With(exitcode.Config, fmt.Errorf("parsing config.json from %s: %w", p.path, err))
	}
	return newDeviceTypeChange(ctx, cfg, opt.ChangeDTTo, log)
}
