package main

import (
	"github.com/spf13/pflag"

	"github.com/takeover-dev/takeover/stage1"
)

// The flag groups below bind to one stage1.Options, so every command that
// shares a flag gives it the same name, default and meaning.

func addConfigFlag(fs *pflag.FlagSet, o *stage1.Options) {
	fs.StringVarP(&o.Config, "config", "c", "", "path to balena config.json")
}

func addLogFlags(fs *pflag.FlagSet, o *stage1.Options) {
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "stage1 log level: error, warn, info, debug, trace")
	fs.StringVar(&o.LogFile, "log-file", "", "also write the stage1 log to this file")
}

func addImageFlags(fs *pflag.FlagSet, o *stage1.Options) {
	fs.StringVarP(&o.WorkDir, "work-dir", "w", o.WorkDir, "working directory for downloads and staged files")
	fs.StringVarP(&o.Image, "image", "i", "", "path to a balenaOS image (raw, gzip, zip, xz or zstd)")
	fs.StringVarP(&o.Version, "version", "v", "",
		"balenaOS version to download: exact (5.1.20+rev1), ~x.y, ^x.y; default: newest")
}

func addCheckFlags(fs *pflag.FlagSet, o *stage1.Options) {
	fs.BoolVar(&o.NoOSCheck, "no-os-check", false, "do not check that the running OS is supported")
	fs.BoolVar(&o.NoDTCheck, "no-dt-check", false, "do not check the device model against the device type")
	fs.BoolVar(&o.NoAPICheck, "no-api-check", false, "do not check that the balena API is reachable")
	fs.BoolVar(&o.NoVPNCheck, "no-vpn-check", false, "do not check that the balena VPN is reachable")
	fs.IntVar(&o.CheckTimeout, "check-timeout", o.CheckTimeout, "API and VPN check timeout in seconds")
}

func addPayloadFlags(fs *pflag.FlagSet, o *stage1.Options) {
	fs.StringVar(&o.BackupCfg, "backup-cfg", "", "backup configuration file (YAML)")
	fs.BoolVar(&o.TarInternal, "tar-internal", false,
		"accepted for compatibility: the backup is always made by takeover's own tar writer")
	fs.BoolVar(&o.NoNwmgrCheck, "no-nwmgr-check", false,
		"go on even when no network configuration was found to migrate")
	fs.BoolVar(&o.NoKeepName, "no-keep-name", false, "do not migrate the hostname")
	fs.BoolVar(&o.NoWifis, "no-wifis", false, "do not migrate the configured Wi-Fi networks")
	fs.StringArrayVar(&o.Wifis, "wifi", nil, "migrate only the Wi-Fi network with this SSID (repeatable)")
	fs.StringArrayVar(&o.NwmgrCfgs, "nwmgr-cfg", nil,
		"NetworkManager keyfile to put into balenaOS (repeatable)")
	fs.StringVar(&o.ChangeDTTo, "change-dt-to", "", "device type slug to change the device to in balena")
	fs.StringVar(&o.S2LogLevel, "s2-log-level", "", "stage2 log level (default: --log-level)")
	fs.BoolVar(&o.FallbackLog, "fallback-log", false,
		"accepted for compatibility: stage2 always keeps its log in RAM and saves it to the data partition")
	fs.StringVar(&o.FallbackLogFilename, "fallback-log-filename", o.FallbackLogFilename,
		"name of the fallback log file")
	fs.StringVar(&o.FallbackLogDir, "fallback-log-dir", o.FallbackLogDir,
		"directory of the fallback log on the data partition")
	fs.BoolVar(&o.NoEFISetup, "no-efi-setup", false, "do not set up EFI boot entries")
	fs.BoolVar(&o.ReportHUPProgress, "report-hup-progress", false,
		"report host update progress to the balena API (internal, for balenahup)")
}

func addDeviceFlags(fs *pflag.FlagSet, o *stage1.Options) {
	fs.StringVarP(&o.FlashTo, "flash-to", "f", "", "disk to flash balenaOS to (default: the disk holding /)")
	fs.StringVarP(&o.LogTo, "log-to", "l", "", "write the stage2 log to this partition (vfat, ext3 or ext4)")
	fs.BoolVar(&o.Pretend, "pretend", false, "do everything but write the disk")
}
