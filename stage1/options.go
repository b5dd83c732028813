// Package stage1 runs on the old OS: it checks the machine, fetches and
// validates the image, carries over network settings, hostname and a
// backup, packs the initramfs and hands over to stage2.
package stage1

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/logging"
)

// ToolVersion names the takeover build; main sets it. It goes into the
// payload plan, and boot refuses a payload written by another build: the
// payload's /init reads the device plan this build writes.
var ToolVersion = "takeover dev"

// Options are the flags of the migration, named as in the original tool.
type Options struct {
	WorkDir             string
	Image               string
	Version             string
	Config              string
	LogLevel            string
	LogFile             string
	FallbackLog         bool
	FallbackLogFilename string
	FallbackLogDir      string
	BackupCfg           string
	S2LogLevel          string
	NoAck               bool
	Pretend             bool
	Stage2              bool
	ReportHUPProgress   bool
	TarInternal         bool
	NoCleanup           bool
	NoOSCheck           bool
	NoDTCheck           bool
	NoAPICheck          bool
	NoVPNCheck          bool
	NoEFISetup          bool
	NoNwmgrCheck        bool
	NoKeepName          bool
	DownloadOnly        bool
	CheckTimeout        int
	LogTo               string
	FlashTo             string
	NoWifis             bool
	Wifis               []string
	NwmgrCfgs           []string
	ChangeDTTo          string

	// Not in the original tool.
	Kernel       string // boot: kernel image to kexec instead of the one found
	Initrd       string // boot: payload archive from build-initrd
	Output       string // build-initrd: where the payload archive goes
	Arch         string // build-initrd: target architecture (GOARCH)
	Stage2Binary string // build-initrd: takeover binary for Arch
	JSON         bool   // check: print JSON
	Hostname     string // build-initrd: hostname for config.json (it reads nothing of this machine)
}

// Defaults returns the options with the original tool's defaults.
func Defaults() Options {
	return Options{
		WorkDir:             ".",
		LogLevel:            "info",
		FallbackLogFilename: "fallback.log",
		FallbackLogDir:      "fallback_log",
		CheckTimeout:        10,
		Arch:                runtime.GOARCH,
	}
}

// Timeout is --check-timeout as a duration.
func (o *Options) Timeout() time.Duration { return time.Duration(o.CheckTimeout) * time.Second }

// Validate checks the flags of a command that reads config.json up front,
// each failure naming the fix.
func (o *Options) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if _, err := logging.ParseLevel(o.LogLevel); err != nil {
		add("--log-level: %w", err)
	}
	if o.S2LogLevel != "" {
		if _, err := logging.ParseLevel(o.S2LogLevel); err != nil {
			add("--s2-log-level: %w", err)
		}
	}
	if o.Image != "" && o.Version != "" {
		add("-i/--image and -v/--version exclude each other: give an image file or a version to download")
	}
	if o.ReportHUPProgress {
		// TODO: report from stage2 once it can bring a network up; until
		// then a report could only claim a success that has not happened.
		add("--report-hup-progress is not supported: stage2 runs without network, " +
			"so it cannot report the update's outcome to the balena API")
	}
	if o.CheckTimeout <= 0 {
		add("--check-timeout must be a positive number of seconds, got %d", o.CheckTimeout)
	}
	if o.Config == "" {
		add("-c/--config is required: download config.json from the balena dashboard (Add device, Advanced, configuration file only)")
	}
	for _, f := range []struct{ flag, path string }{
		{flag: "-c/--config", path: o.Config},
		{flag: "-i/--image", path: o.Image},
		{flag: "--backup-cfg", path: o.BackupCfg},
	} {
		if err := readableFile(f.path); err != nil {
			add("%s: %w", f.flag, err)
		}
	}
	for _, p := range o.NwmgrCfgs {
		if err := readableFile(p); err != nil {
			add("--nwmgr-cfg: %w", err)
		}
	}
	if strings.ContainsAny(o.FallbackLogFilename, "/\x00") || o.FallbackLogFilename == "" {
		add("--fallback-log-filename must be a plain file name, got %q", o.FallbackLogFilename)
	}
	if strings.Contains(o.FallbackLogDir, "..") || o.FallbackLogDir == "" {
		add("--fallback-log-dir must be a directory name inside the data partition, got %q", o.FallbackLogDir)
	}
	if len(errs) > 0 {
		return exitcode.With(exitcode.Usage, errors.Join(errs...))
	}
	return nil
}

func readableFile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory, want a file", path)
	}
	return nil
}

// CheckBlockDevices checks --log-to and --flash-to where the command needs
// them: each must name a block device.
func (o *Options) CheckBlockDevices() error {
	for _, f := range []struct{ flag, path string }{
		{flag: "-f/--flash-to", path: o.FlashTo},
		{flag: "-l/--log-to", path: o.LogTo},
	} {
		if f.path == "" {
			continue
		}
		st, err := os.Stat(f.path)
		if err != nil {
			return exitcode.With(exitcode.Usage, fmt.Errorf("%s: %w", f.flag, err))
		}
		if st.Mode()&os.ModeDevice == 0 || st.Mode()&os.ModeCharDevice != 0 {
			return exitcode.With(exitcode.Usage,
				fmt.Errorf("%s: %s is not a block device; name a disk such as /dev/sda or /dev/mmcblk0", f.flag, f.path))
		}
	}
	return nil
}
