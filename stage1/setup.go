package stage1

import (
	"fmt"
	"io"
	"os"

	"github.com/takeover-dev/takeover/configjson"
	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/logging"
)

// start is the common opening of every command that reads config.json:
// check the flags, set up logging, load and check config.json. The caller
// closes the logger.
func start(o Options, req configjson.Require) (*logging.Logger, *configjson.Config, error) {
	if err := o.Validate(); err != nil {
		return nil, nil, err
	}
	log, err := newLogger(o)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := loadConfig(o, log, req)
	if err != nil {
		log.Close()
		return nil, nil, err
	}
	return log, cfg, nil
}

// newLogger builds the stage1 logger from the flags.
func newLogger(o Options) (*logging.Logger, error) {
	level, err := logging.ParseLevel(o.LogLevel)
	if err != nil {
		return nil, exitcode.With(exitcode.Usage, err)
	}
	l, err := logging.New(logging.Options{Level: level, Console: os.Stderr, File: o.LogFile})
	if err != nil {
		return nil, exitcode.With(exitcode.Usage, fmt.Errorf("setting up logging: %w", err))
	}
	return l, nil
}

// loadConfig reads config.json, registers its secrets for redaction and
// checks the keys the command needs.
func loadConfig(o Options, log *logging.Logger, req configjson.Require) (*configjson.Config, error) {
	cfg, err := configjson.Load(o.Config)
	if err != nil {
		return nil, exitcode.With(exitcode.Config, err)
	}
	log.Redactor.Add(cfg.Secrets()...)
	if err := cfg.Validate(req); err != nil {
		return nil, exitcode.With(exitcode.Config, err)
	}
	return cfg, nil
}

// slug is the device type the image is for: --change-dt-to wins.
func slug(o Options, cfg *configjson.Config) string {
	if o.ChangeDTTo != "" {
		return o.ChangeDTTo
	}
	return cfg.DeviceType
}

// tty returns w when it is a terminal, for redrawn progress lines.
func tty(f *os.File) io.Writer {
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return f
}
