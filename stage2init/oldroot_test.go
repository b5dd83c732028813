package stage2init

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/takeover-dev/takeover/plan"
)

// withOldRoot makes partition 2 of the target disk the old OS's root, as
// boot records it: listed by the kernel before any re-read, with a node.
func (s *stage) withOldRoot() {
	t := s.t
	dir := filepath.Join(s.cfg.SysRoot, vdaPath, "vda2")
	writeAttrs(t, dir, map[string]string{"partition": "2", "start": "6144", "size": "2048"})
	link(t, filepath.Join(s.cfg.SysRoot, "class", "block", "vda2"), dir)
	s.write(filepath.Join(s.cfg.DevDir, "vda2"), nil, 0o600)
	old := s.device.Disk
	old.Partition, old.FSType = 2, "ext4"
	s.device.OldRoot = &old
}

// oldRootLogName is the log's name on the old root: a UTC timestamp.
var oldRootLogName = regexp.MustCompile(`^stage2-\d{8}T\d{6}Z\.log$`)

// oldRootLogs returns the logs stage2 left in /var/log/takeover of the old
// root, by name, and whether the old root was ever mounted.
func (s *stage) oldRootLogs() (map[string]string, bool) {
	s.t.Helper()
	fs := s.sys.fs("vda2")
	if _, err := os.Stat(fs); errors.Is(err, os.ErrNotExist) {
		return nil, false
	}
	entries, err := os.ReadDir(filepath.Join(fs, oldRootLogDir))
	if err != nil {
		s.t.Fatalf("old root mounted, but: %v", err)
	}
	logs := map[string]string{}
	for _, e := range entries {
		content, mode, ok := s.in("vda2", filepath.Join(oldRootLogDir, e.Name()))
		if !ok || !oldRootLogName.MatchString(e.Name()) || mode != 0o600&^umask() {
			s.t.Errorf("old root holds %s (mode %v, readable %v), want stage2-<UTC time>.log, "+
				"mode 0600", e.Name(), mode, ok)
		}
		logs[e.Name()] = content
	}
	return logs, true
}

// A run that ends before the first write reboots into the old OS; without
// a log device its log went only to the console and was lost with the
// reboot. It now lands on the old root, and only while the disk is
// untouched: after a write the old root may be half overwritten.
func TestRunSavesLogToOldRoot(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(s *stage)
		want    []string // in the one log on the old root; nil for no mount of it at all
		outcome outcome
	}{
		{name: "pretend", setup: func(s *stage) { s.payload.Options.Pretend = true },
			want: []string{markerStart, "opening disk", markerPretendDone}, outcome: untouched},
		{name: "payload digest mismatch",
			setup:   func(s *stage) { s.payload.Image.SHA256 = strings.Repeat("0", 64) },
			want:    []string{markerFailed + " phase=checking-payload", "sha256"},
			outcome: untouched},
		{name: "low memory", setup: func(s *stage) {
			s.write(filepath.Join(s.cfg.ProcRoot, "meminfo"), []byte("MemAvailable: 1 kB\n"), 0o644)
		}, want: []string{markerFailed + " phase=checking-memory"}, outcome: untouched},
		{name: "log device gone", setup: func(s *stage) {
			s.withLogDevice()
			s.device.LogDevice.Serial = "another-stick"
			s.payload.Image.SHA256 = strings.Repeat("0", 64)
		}, want: []string{markerFailed, "log not saved to the log device"}, outcome: untouched},
		{name: "verify mismatch", outcome: wiped, setup: func(s *stage) {
			s.sys.wrap = func(d Disk) Disk { return &faultDisk{Disk: d, corruptReads: true} }
		}},
		{name: "write error", outcome: wiped, setup: func(s *stage) {
			s.sys.wrap = func(d Disk) Disk { return &faultDisk{Disk: d, failWrites: true} }
		}},
		// A panic leaves no word from flashing on whether it wrote: assume so.
		{name: "panic while flashing", outcome: untouched, setup: func(s *stage) {
			s.cfg.OpenImage = func(string, string) (io.ReadCloser, error) { panic("boom") }
		}},
		{name: "partition moved after flashing", outcome: flashed,
			setup: func(s *stage) { s.sys.partitions[0].Start += 512 }},
		{name: "success", outcome: flashed},
		{name: "disk not found", setup: func(s *stage) { s.device.Disk.Serial = "someone-else" },
			outcome: untouched},
		{name: "log device took the log", outcome: untouched, setup: func(s *stage) {
			s.withLogDevice()
			s.payload.Image.SHA256 = strings.Repeat("0", 64)
		}},
		{name: "old root names another disk", outcome: untouched, setup: func(s *stage) {
			s.device.OldRoot.Serial = "someone-else"
			s.payload.Options.Pretend = true
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStage(t)
			s.withOldRoot()
			if tt.setup != nil {
				tt.setup(s)
			}
			s.run()
			logs, mounted := s.oldRootLogs()
			if tt.want == nil && mounted {
				t.Fatalf("old root mounted (logs %v), want it untouched\n%s", keys(logs),
					s.console.String())
			}
			if tt.want != nil {
				s.checkOldRootLog(logs, tt.want)
			}
			if s.sys.reboots != 1 || len(s.sys.mounted) != 0 {
				t.Errorf("%d reboots, mounted %v; want 1 and none", s.sys.reboots, s.sys.mounted)
			}
			s.checkOutcome(tt.outcome)
		})
	}
}

func (s *stage) checkOldRootLog(logs map[string]string, want []string) {
	s.t.Helper()
	if len(logs) != 1 {
		s.t.Fatalf("old root holds logs %v, want one\n%s", keys(logs), s.console.String())
	}
	for name, log := range logs {
		if err := contains(log, want...); err != nil {
			s.t.Errorf("old root %s: %v\n%s", name, err, log)
		}
	}
	if err := contains(s.console.String(), "log saved to the old root"); err != nil {
		s.t.Errorf("console: %v", err)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A disk that hangs on mount must not keep PID 1 from rebooting.
func TestRunRebootsWhenOldRootHangs(t *testing.T) {
	s := newStage(t)
	s.withOldRoot()
	s.payload.Options.Pretend = true
	s.cfg.SyncTimeout = 50 * time.Millisecond
	release, returned := make(chan struct{}), make(chan struct{})
	s.sys.onMount = func(string) error {
		<-release
		close(returned)
		return errors.New("mount gave up")
	}
	done := make(chan error, 1)
	go func() { done <- s.run() }()
	select {
	case err := <-done:
		if err != nil || s.sys.reboots != 1 {
			t.Errorf("Run with a hung old root = %v, %d reboots; want nil, 1", err, s.sys.reboots)
		}
	case <-time.After(10 * time.Second):
		t.Error("Run still waiting on a hung old root mount after 10s")
	}
	close(release)
	<-returned
	if err := contains(s.console.String(), "did not finish, rebooting anyway"); err != nil {
		t.Errorf("console: %v\n%s", err, s.console.String())
	}
}

// The plan's old root must be a partition with a file system.
func TestOldRootRefusal(t *testing.T) {
	tests := []struct {
		name    string
		old     plan.DiskIdentity
		disk    string
		phase   string
		written bool
		want    string
	}{
		{name: "usable", old: plan.DiskIdentity{Partition: 2, FSType: "ext4"}, disk: "vda"},
		{name: "disk not looked for yet", old: plan.DiskIdentity{Partition: 2, FSType: "ext4"},
			phase: "checking payload"},
		{name: "written", old: plan.DiskIdentity{Partition: 2, FSType: "ext4"}, disk: "vda",
			written: true, want: "the disk was written"},
		{name: "disk not found", old: plan.DiskIdentity{Partition: 2, FSType: "ext4"},
			phase: phaseFindDisk, want: "the disk was not found"},
		{name: "whole disk", old: plan.DiskIdentity{FSType: "ext4"}, disk: "vda",
			want: "names no partition"},
		{name: "no file system", old: plan.DiskIdentity{Partition: 1}, disk: "vda",
			want: "names no partition"},
	}
	for _, tt := range tests {
		r := &run{device: &plan.Device{OldRoot: &tt.old}, disk: tt.disk, phase: tt.phase,
			written: tt.written}
		got := r.oldRootRefusal()
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("oldRootRefusal(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
