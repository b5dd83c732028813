package stage2init

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/takeover-dev/takeover/blockdev"
	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/plan"
)

const (
	diskSize = 16 << 20
	rawSize  = 6<<20 + 4096
	junkByte = 0xA5
)

// stage is one stage2 world: payload, plans, fake kernel and disk.
type stage struct {
	t       *testing.T
	cfg     Config
	sys     *fakeSystem
	payload plan.Payload
	device  plan.Device
	raw     []byte
	console bytes.Buffer
	kmsg    bytes.Buffer
}

func newStage(t *testing.T) *stage {
	t.Helper()
	dir := t.TempDir()
	s := &stage{t: t}
	sysRoot, devDir, payloadDir := filepath.Join(dir, "sys"), filepath.Join(dir, "dev"),
		filepath.Join(dir, "payload")
	for _, d := range []string{devDir, payloadDir, filepath.Join(dir, "proc")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeAttrs(t, filepath.Join(sysRoot, vdaPath), map[string]string{
		"size": "32768", "queue/logical_block_size": "512", "serial": "target-1"})
	link(t, filepath.Join(sysRoot, "class", "block", "vda"), filepath.Join(sysRoot, vdaPath))
	s.write(filepath.Join(devDir, "vda"), bytes.Repeat([]byte{junkByte}, diskSize), 0o600)
	s.write(filepath.Join(dir, "proc", "meminfo"),
		[]byte("MemTotal: 524288 kB\nMemAvailable:  262144 kB\n"), 0o644)

	s.raw = make([]byte, rawSize)
	rand.New(rand.NewSource(2)).Read(s.raw)
	img := filepath.Join(payloadDir, "balena.img.gz")
	s.write(img, gzipped(t, s.raw), 0o644)
	boot := plan.Partition{Name: "resin-boot", Number: 1, Start: 1 << 20, Size: 2 << 20,
		FSType: "vfat"}
	data := plan.Partition{Name: "resin-data", Number: 6, Start: 4 << 20, Size: 2 << 20,
		FSType: "ext4"}
	s.payload = plan.Payload{Version: plan.Version, Arch: "amd64",
		Image: plan.Image{Path: img, Compression: "gzip", RawSize: rawSize,
			RawSHA256: digest(s.raw), Table: "mbr", Partitions: []plan.Partition{boot, data}},
		Files: []plan.File{
			s.file(payloadDir, "config.json", `{"uuid":"x"}`, "resin-boot", "/config.json", 0o600),
			s.file(payloadDir, "balena-01", "[connection]\n", "resin-boot",
				"system-connections/balena-01", 0o600),
			s.file(payloadDir, "backup.tgz", "tgz", "resin-data", "backup.tgz", 0o644),
		},
		Log: plan.Log{Level: "info", FallbackDir: "takeover", FallbackFilename: "stage2.log"},
	}
	s.payload.Image.Size, s.payload.Image.SHA256 = fileDigest(t, img)
	s.device = plan.Device{Version: plan.Version, Disk: plan.DiskIdentity{Name: "vda",
		SysfsPath: vdaPath, Size: diskSize, LogicalSectorSize: 512, Serial: "target-1"},
		Modules: []string{"virtio_blk.ko"}}
	s.sys = &fakeSystem{t: t, sysRoot: sysRoot, devDir: devDir, fsDir: filepath.Join(dir, "fs"),
		mounted: map[string]string{}, partitions: []blockdev.Part{
			{Name: "vda1", Number: 1, Start: boot.Start, Size: boot.Size},
			{Name: "vda2", Number: 2, Start: 3 << 20, Size: 1 << 20},
			{Name: "vda6", Number: 6, Start: data.Start, Size: data.Size},
		}}
	s.cfg = Config{PayloadPlan: filepath.Join(dir, "payload.json"),
		DevicePlan: filepath.Join(dir, "device.json"), ModulesDir: filepath.Join(dir, "modules"),
		SysRoot: sysRoot, ProcRoot: filepath.Join(dir, "proc"), DevDir: devDir,
		MountDir: filepath.Join(dir, "mnt"), Console: &s.console, Kmsg: &s.kmsg,
		FindTimeout: 300 * time.Millisecond, PartitionTimeout: 300 * time.Millisecond,
		SyncTimeout: time.Second, ProgressInterval: time.Hour}
	return s
}

func (s *stage) write(path string, b []byte, mode os.FileMode) {
	s.t.Helper()
	if err := os.WriteFile(path, b, mode); err != nil {
		s.t.Fatal(err)
	}
}

func (s *stage) file(dir, name, content, part, target string, mode uint32) plan.File {
	p := filepath.Join(dir, name)
	s.write(p, []byte(content), 0o600)
	return plan.File{Source: p, Partition: part, Target: target, Mode: mode}
}

// run writes the plans and runs stage2.
func (s *stage) run() error {
	s.t.Helper()
	for path, v := range map[string]any{s.cfg.PayloadPlan: s.payload, s.cfg.DevicePlan: s.device} {
		b, err := plan.Marshal(v)
		if err != nil {
			s.t.Fatal(err)
		}
		s.write(path, b, 0o600)
	}
	return Run(context.Background(), s.sys, s.cfg)
}

func (s *stage) disk() []byte {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.cfg.DevDir, "vda"))
	if err != nil {
		s.t.Fatal(err)
	}
	return b
}

// in reads a file from the file system standing for partition device dev.
func (s *stage) in(dev, path string) (string, os.FileMode, bool) {
	p := filepath.Join(s.sys.fs(dev), path)
	b, err := os.ReadFile(p)
	if err != nil {
		return "", 0, false
	}
	fi, err := os.Stat(p)
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b), fi.Mode().Perm(), true
}

func gzipped(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func fileDigest(t *testing.T, path string) (int64, string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(b)), digest(b)
}

func TestRunFlashesWritesFilesAndReboots(t *testing.T) {
	s := newStage(t)
	if err := s.run(); err != nil {
		t.Fatalf("Run = %v\nconsole:\n%s", err, s.console.String())
	}
	if testing.Verbose() {
		t.Log(s.console.String())
	}
	if err := contains(s.console.String(), markerStart+" pid=", markerFlashed+"\n",
		markerVerified+" sha256="+digest(s.raw)+"\n", markerDone+"\n"); err != nil {
		t.Errorf("console: %v\n%s", err, s.console.String())
	}
	if err := contains(s.kmsg.String(), "<5>takeover: "+markerDone, "<6>takeover: step step="); err != nil {
		t.Errorf("kmsg: %v\n%s", err, s.kmsg.String())
	}
	d := s.disk()
	if !bytes.Equal(d[:rawSize], s.raw) || d[rawSize] != junkByte {
		t.Error("disk does not hold exactly the image")
	}
	files := []struct {
		dev, path, content string
		mode               os.FileMode
	}{
		{dev: "vda1", path: "config.json", content: `{"uuid":"x"}`, mode: 0o600},
		{dev: "vda1", path: "system-connections/balena-01", content: "[connection]\n", mode: 0o600},
		{dev: "vda6", path: "backup.tgz", content: "tgz", mode: 0o644},
	}
	for _, f := range files {
		content, mode, ok := s.in(f.dev, f.path)
		if !ok || content != f.content || mode != f.mode&^umask() {
			t.Errorf("%s:%s = %q %v (exists %v), want %q %v", f.dev, f.path, content, mode, ok,
				f.content, f.mode)
		}
	}
	log, _, ok := s.in("vda6", "takeover/stage2.log")
	if err := contains(log, markerFlashed, markerDone, "file written"); !ok || err != nil {
		t.Errorf("saved log (exists %v): %v\n%s", ok, err, log)
	}
	if s.sys.reboots != 1 || s.sys.syncs == 0 || len(s.sys.mounted) != 0 || s.sys.rereads != 1 {
		t.Errorf("system: %d reboots, %d syncs, mounted %v, %d re-reads; want 1, >0, none, 1",
			s.sys.reboots, s.sys.syncs, s.sys.mounted, s.sys.rereads)
	}
	if strings.Join(s.sys.modules, ",") != "virtio_blk.ko" {
		t.Errorf("modules loaded = %v, want [virtio_blk.ko]", s.sys.modules)
	}
}

func umask() os.FileMode {
	p := filepath.Join(os.TempDir(), "umask-probe")
	defer os.Remove(p)
	if err := os.WriteFile(p, nil, 0o777); err != nil {
		return 0
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return 0o777 &^ fi.Mode().Perm()
}

// outcome is what a failed or pretend run must leave behind.
type outcome int

const (
	untouched outcome = iota // the disk as before: all junk
	wiped                    // no partition table: the first MiB zero
	flashed                  // the image, but files not written
)

func TestRunFailures(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(s *stage)
		wantPhase string // "" for a pretend run
		wantCode  exitcode.Code
		want      outcome
	}{
		{name: "pretend", want: untouched,
			setup: func(s *stage) { s.payload.Options.Pretend = true }},
		{name: "initramfs truncated", wantPhase: "checking-initramfs", want: untouched,
			setup: func(s *stage) { s.sys.klog = "x\nInitramfs unpacking failed: junk\n" }},
		{name: "corrupt payload file", wantPhase: "checking-payload", want: untouched,
			setup: func(s *stage) { s.payload.Image.SHA256 = strings.Repeat("0", 64) }},
		{name: "missing config", wantPhase: "checking-payload", want: untouched,
			setup: func(s *stage) { os.Remove(s.payload.Files[0].Source) }},
		{name: "low memory", wantPhase: "checking-memory", want: untouched,
			setup: func(s *stage) {
				s.write(filepath.Join(s.cfg.ProcRoot, "meminfo"), []byte("MemAvailable: 1000 kB\n"), 0o644)
			}},
		{name: "other disk", wantPhase: "finding-disk", want: untouched,
			setup: func(s *stage) { s.device.Disk.Serial = "someone-else" }},
		{name: "panic opening the image", wantPhase: "flashing", want: untouched,
			setup: func(s *stage) {
				s.cfg.OpenImage = func(string, string) (io.ReadCloser, error) { panic("boom") }
			}},
		{name: "decompressed image corrupt", wantPhase: "flashing", want: wiped,
			wantCode: exitcode.Flash, setup: func(s *stage) {
				s.payload.Image.RawSHA256 = strings.Repeat("1", 64)
			}},
		{name: "write error", wantPhase: "flashing", want: wiped, wantCode: exitcode.Flash,
			setup: func(s *stage) {
				s.sys.wrap = func(d Disk) Disk { return &faultDisk{Disk: d, failWrites: true} }
			}},
		{name: "verify mismatch", wantPhase: "flashing", want: wiped, wantCode: exitcode.Verify,
			setup: func(s *stage) {
				s.sys.wrap = func(d Disk) Disk { return &faultDisk{Disk: d, corruptReads: true} }
			}},
		{name: "partition moved", wantPhase: "checking-partitions", want: flashed,
			setup: func(s *stage) { s.sys.partitions[0].Start += 512 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStage(t)
			tt.setup(s)
			err := s.run()
			console := s.console.String()
			if s.sys.reboots != 1 {
				t.Errorf("reboots = %d, want 1", s.sys.reboots)
			}
			if tt.wantPhase == "" {
				if err != nil || !strings.Contains(console, markerPretendDone) {
					t.Errorf("Run = %v, want nil and %s\n%s", err, markerPretendDone, console)
				}
			} else {
				want := markerFailed + " phase=" + tt.wantPhase + " error="
				if err == nil || !strings.Contains(console, want) {
					t.Errorf("Run = %v, want an error and %q on the console\n%s", err, want, console)
				}
				if strings.Contains(console, markerDone) {
					t.Errorf("console says %s after a failure", markerDone)
				}
			}
			if tt.wantCode != exitcode.OK && exitcode.Of(err) != tt.wantCode {
				t.Errorf("Run = %v (code %s), want code %s", err, exitcode.Of(err), tt.wantCode)
			}
			s.checkOutcome(tt.want)
			if _, _, ok := s.in("vda1", "config.json"); ok {
				t.Error("config.json written in a failed run")
			}
		})
	}
}

func (s *stage) checkOutcome(want outcome) {
	s.t.Helper()
	d := s.disk()
	switch want {
	case untouched:
		if !bytes.Equal(d, bytes.Repeat([]byte{junkByte}, len(d))) {
			s.t.Error("disk changed, want it untouched")
		}
	case wiped:
		if !bytes.Equal(d[:1<<20], make([]byte, 1<<20)) {
			s.t.Error("first MiB of the disk not zero, want the table wiped")
		}
	case flashed:
		if !bytes.Equal(d[:rawSize], s.raw) {
			s.t.Error("disk does not hold the image")
		}
	}
}

// The plan may name a log device: a failure before the first write leaves
// the log there, so the old OS can show why the migration did not happen.
func TestRunSavesLogToLogDevice(t *testing.T) {
	s := newStage(t)
	s.withLogDevice()
	s.payload.Image.SHA256 = strings.Repeat("0", 64)

	if err := s.run(); err == nil {
		t.Fatal("Run with a corrupt payload succeeded")
	}
	log, _, ok := s.in("sdb1", "takeover/stage2.log")
	if err := contains(log, "checking payload", markerFailed); !ok || err != nil {
		t.Errorf("log on the log device (exists %v): %v\n%s", ok, err, log)
	}
	s.checkOutcome(untouched)
}

// withLogDevice gives the plan a log device: partition 1 of a USB stick.
func (s *stage) withLogDevice() {
	t := s.t
	sdb := "/devices/pci0000:00/0000:00:06.0/usb1/block/sdb"
	writeAttrs(t, filepath.Join(s.cfg.SysRoot, sdb), map[string]string{
		"size": "8192", "queue/logical_block_size": "512", "serial": "stick"})
	writeAttrs(t, filepath.Join(s.cfg.SysRoot, sdb, "sdb1"), map[string]string{
		"partition": "1", "start": "2048", "size": "4096"})
	link(t, filepath.Join(s.cfg.SysRoot, "class", "block", "sdb"), filepath.Join(s.cfg.SysRoot, sdb))
	link(t, filepath.Join(s.cfg.SysRoot, "class", "block", "sdb1"),
		filepath.Join(s.cfg.SysRoot, sdb, "sdb1"))
	s.write(filepath.Join(s.cfg.DevDir, "sdb1"), nil, 0o600)
	s.device.LogDevice = &plan.DiskIdentity{SysfsPath: sdb, Size: 8192 * 512,
		LogicalSectorSize: 512, Serial: "stick", Partition: 1, FSType: "vfat"}
}

func TestInside(t *testing.T) {
	tests := []struct {
		target  string
		want    string
		wantErr bool
	}{
		{target: "/config.json", want: "/r/config.json"},
		{target: "system-connections/a", want: "/r/system-connections/a"},
		{target: "a..b", want: "/r/a..b"},
		{target: "../etc/passwd", wantErr: true},
		{target: "a/../../x", wantErr: true},
		{target: "/", wantErr: true},
	}
	for _, tt := range tests {
		got, err := inside("/r", tt.target)
		if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
			t.Errorf("inside(/r, %q) = %q, %v, want %q (error %v)", tt.target, got, err, tt.want,
				tt.wantErr)
		}
	}
}
