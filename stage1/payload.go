package stage1

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/takeover-dev/takeover/backup"
	"github.com/takeover-dev/takeover/configjson"
	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/image"
	"github.com/takeover-dev/takeover/initramfs"
	"github.com/takeover-dev/takeover/netmigrate"
	"github.com/takeover-dev/takeover/plan"
	"github.com/takeover-dev/takeover/preflight"
)

// payloadSpec is everything that goes into the payload archive.
type payloadSpec struct {
	image    *plan.Image
	stageDir string // holds config.json, system-connections/, backup.tgz
	input    initramfs.PayloadInput
}

// stagePayload prepares the files of the payload archive in the work
// directory: config.json as it will be written, NetworkManager keyfiles,
// the backup, and the payload plan. root is the old OS to read network
// settings and hostname from; "" reads nothing of this machine (an offline
// build-initrd on a workstation must not carry the workstation's Wi-Fi).
func stagePayload(o Options, cfg *configjson.Config, img *plan.Image,
	root string, log logrus.FieldLogger) (_ *payloadSpec, err error) {
	stage := filepath.Join(o.WorkDir, "takeover-stage")
	if err := os.RemoveAll(stage); err != nil {
		return nil, fmt.Errorf("clearing staging directory %s: %w", stage, err)
	}
	spec := &payloadSpec{image: img, stageDir: stage}
	defer func() {
		if err != nil && !o.NoCleanup {
			spec.removeStage(log)
		}
	}()
	if err := os.MkdirAll(filepath.Join(stage, "system-connections"), 0o700); err != nil {
		return nil, fmt.Errorf("creating staging directory: %w", err)
	}

	if err := stageConfig(o, cfg, root, stage, log); err != nil {
		return nil, exitcode.With(exitcode.Config, err)
	}
	conns, err := stageNetwork(o, root, stage, log)
	if err != nil {
		return nil, exitcode.With(exitcode.Preflight, err)
	}
	backupPath, err := stageBackup(o, stage, log)
	if err != nil {
		return nil, exitcode.With(exitcode.Preflight, err)
	}
	initBin, err := stage2Binary(o)
	if err != nil {
		return nil, exitcode.With(exitcode.Usage, err)
	}

	spec.input = initramfs.PayloadInput{
		Init: initBin, Image: img.Path, ConfigJSON: filepath.Join(stage, "config.json"),
		Connections: conns, Backup: backupPath,
		Plan: payloadPlan(o, cfg, img, conns, backupPath != ""),
	}
	return spec, nil
}

// removeStage deletes the staging directory: once the payload archive is
// written (or the run failed) it only holds a copy of secrets.
func (s *payloadSpec) removeStage(log logrus.FieldLogger) {
	if err := os.RemoveAll(s.stageDir); err != nil {
		log.WithError(err).WithField("dir", s.stageDir).Warn("cannot remove staging directory")
	}
}

// stageConfig writes config.json as balenaOS will get it: with the
// hostname (unless --no-keep-name) and the new device type.
func stageConfig(o Options, cfg *configjson.Config, root, stage string, log logrus.FieldLogger) error {
	if o.Hostname != "" {
		if err := preflight.CheckHostname(o.Hostname); err != nil {
			return fmt.Errorf("--hostname: %w", err)
		}
		if err := cfg.Set("hostname", o.Hostname); err != nil {
			return err
		}
	} else if !o.NoKeepName && root != "" {
		name, err := preflight.Hostname(root)
		if err != nil {
			log.WithError(err).Warn("hostname not kept; balenaOS will name the device itself")
		} else {
			if err := cfg.Set("hostname", name); err != nil {
				return fmt.Errorf("setting hostname in config.json: %w", err)
			}
			log.WithField("hostname", name).Info("keeping hostname")
		}
	}
	if o.ChangeDTTo != "" {
		if err := cfg.Set("deviceType", o.ChangeDTTo); err != nil {
			return err
		}
	}
	return cfg.Write(filepath.Join(stage, "config.json"))
}

// stageNetwork collects the network settings to migrate into keyfiles.
func stageNetwork(o Options, root, stage string, log logrus.FieldLogger) ([]string, error) {
	res, err := netmigrate.Collect(netmigrate.Options{
		Root: root, NoWifis: o.NoWifis, Wifis: o.Wifis, NMFiles: o.NwmgrCfgs, NoScan: root == "", Log: log,
	})
	if err != nil {
		return nil, fmt.Errorf("collecting network settings: %w", err)
	}
	if res.Count() == 0 {
		if !o.NoNwmgrCheck {
			return nil, netmigrate.ErrNoNetwork
		}
		log.Warn("no network configuration to migrate; balenaOS will rely on wired DHCP")
	}
	dir := filepath.Join(stage, "system-connections")
	if err := res.WriteDir(dir); err != nil {
		return nil, fmt.Errorf("writing keyfiles: %w", err)
	}
	var paths []string
	for _, f := range res.Files {
		paths = append(paths, filepath.Join(dir, f.Name))
	}
	log.WithField("files", len(paths)).Info("network settings staged")
	return paths, nil
}

// stageBackup packs --backup-cfg's directories into backup.tgz.
func stageBackup(o Options, stage string, log logrus.FieldLogger) (string, error) {
	if o.BackupCfg == "" {
		return "", nil
	}
	data, err := os.ReadFile(o.BackupCfg)
	if err != nil {
		return "", fmt.Errorf("reading backup configuration: %w", err)
	}
	cfg, err := backup.ParseConfig(data)
	if err != nil {
		return "", fmt.Errorf("parsing backup configuration %s: %w", o.BackupCfg, err)
	}
	out := filepath.Join(stage, "backup.tgz")
	sum, err := backup.Create(cfg, out, backup.Options{Log: log})
	if err != nil {
		return "", fmt.Errorf("creating backup: %w", err)
	}
	log.WithFields(logrus.Fields{"files": sum.Files, "bytes": sum.Bytes}).Info("backup created")
	return out, nil
}

// payloadPlan is the payload half of the plan: the image, where each
// staged file goes after flashing, logging and options.
func payloadPlan(o Options, cfg *configjson.Config, img *plan.Image, conns []string, hasBackup bool) *plan.Payload {
	// The image was validated to hold one of each; the plan names the one
	// it holds, so stage2 finds it without guessing.
	boot, data := findPart(img, image.BootNames), findPart(img, image.DataNames)
	im := *img
	im.Path = plan.ImageDir + "/" + filepath.Base(img.Path)
	p := &plan.Payload{
		Version: plan.Version, CreatedBy: ToolVersion, Arch: o.Arch, Image: im,
		Files: []plan.File{{Source: plan.ConfigJSONPath, Partition: boot, Target: "/config.json", Mode: 0o600}},
		Log: plan.Log{Level: firstNonEmpty(o.S2LogLevel, o.LogLevel), FallbackLog: o.FallbackLog,
			FallbackFilename: o.FallbackLogFilename, FallbackDir: o.FallbackLogDir},
		Options: plan.Options{Pretend: o.Pretend, EFISetup: !o.NoEFISetup, ChangeDTTo: o.ChangeDTTo,
			ReportHUPProgress: o.ReportHUPProgress, APIEndpoint: cfg.APIEndpoint, UUID: cfg.UUID},
	}
	for _, c := range conns {
		name := filepath.Base(c)
		p.Files = append(p.Files, plan.File{Source: plan.ConnectionsDir + "/" + name, Partition: boot,
			Target: "/system-connections/" + name, Mode: 0o600})
	}
	if hasBackup {
		p.Files = append(p.Files, plan.File{Source: plan.BackupPath, Partition: data,
			Target: "/backup.tgz", Mode: 0o600})
	}
	return p
}

func findPart(img *plan.Image, names []string) string {
	for _, n := range names {
		if _, ok := img.Partition(n); ok {
			return n
		}
	}
	return names[0]
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// elfMachines maps --arch to the ELF machine its binary must have.
var elfMachines = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "arm": elf.EM_ARM, "armv7": elf.EM_ARM, "armv6": elf.EM_ARM,
}

// stage2Binary finds the takeover binary that becomes /init for --arch and
// checks that it is a static ELF binary for that architecture.
func stage2Binary(o Options) (string, error) {
	want, ok := elfMachines[o.Arch]
	if !ok {
		return "", fmt.Errorf("--arch %q is not one of amd64, arm64, armv7, armv6", o.Arch)
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding this binary: %w", err)
	}
	path := o.Stage2Binary
	if path == "" {
		path = self
		if !sameArch(o.Arch) {
			path = filepath.Join(filepath.Dir(self), "takeover-linux-"+o.Arch)
		}
	}
	if err := checkELF(path, want); err != nil {
		return "", fmt.Errorf("stage2 binary for %s: %w; pass --stage2-binary or build it with make cross",
			o.Arch, err)
	}
	return path, nil
}

func sameArch(arch string) bool {
	return arch == runtime.GOARCH || (runtime.GOARCH == "arm" && strings.HasPrefix(arch, "arm") && arch != "arm64")
}

func checkELF(path string, want elf.Machine) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("reading ELF header of %s: %w", path, err)
	}
	defer f.Close()
	if f.Machine != want {
		return fmt.Errorf("%s is built for %v, want %v", path, f.Machine, want)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; stage2 needs a static binary (CGO_ENABLED=0)", path)
		}
	}
	return nil
}
