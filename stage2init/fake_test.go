package stage2init

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/takeover-dev/takeover/blockdev"
	"github.com/takeover-dev/takeover/flash"
)

const vdaPath = "/devices/pci0000:00/0000:00:04.0/virtio1/block/vda"

// fakeSystem stands for the kernel: a file is the disk, sysfs is a tree in
// a temporary directory, and a mount links a directory that stands for the
// partition's file system.
type fakeSystem struct {
	t          *testing.T
	sysRoot    string
	devDir     string
	fsDir      string          // holds one directory per partition device
	partitions []blockdev.Part // what the kernel finds after a re-read
	klog       string
	wrap       func(Disk) Disk           // injects disk faults; nil for none
	onMount    func(source string) error // runs first in Mount; may block as a hung disk

	mu       sync.Mutex
	modules  []string
	mounted  map[string]string // mount point -> device
	syncs    int
	reboots  int
	rereads  int
	diskOpen int
}

func (s *fakeSystem) LoadModules(dir string, mods []string, _ logrus.FieldLogger) error {
	s.modules = append(s.modules, mods...)
	return nil
}

func (s *fakeSystem) KernelLog() ([]byte, error) { return []byte(s.klog), nil }

func (s *fakeSystem) OpenDisk(path string) (Disk, error) {
	f, err := flash.OpenFile(path, 512)
	if err != nil {
		return nil, err
	}
	s.diskOpen++
	if s.wrap != nil {
		return s.wrap(f), nil
	}
	return f, nil
}

// RereadPartitions publishes s.partitions in sysfs and /dev, as the kernel
// does after BLKRRPART.
func (s *fakeSystem) RereadPartitions(_ context.Context, path string) error {
	s.rereads++
	for _, p := range s.partitions {
		dir := filepath.Join(s.sysRoot, vdaPath, p.Name)
		writeAttrs(s.t, dir, map[string]string{"partition": fmt.Sprint(p.Number),
			"start": fmt.Sprint(p.Start / 512), "size": fmt.Sprint(p.Size / 512)})
		link(s.t, filepath.Join(s.sysRoot, "class", "block", p.Name), dir)
		if err := os.WriteFile(filepath.Join(s.devDir, p.Name), nil, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (s *fakeSystem) Mount(source, target, fsType string) error {
	if s.onMount != nil {
		if err := s.onMount(source); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Stat(source); err != nil {
		return fmt.Errorf("mounting %s: %w", source, err)
	}
	if fsType == "" {
		return errors.New("mounting without a file system type")
	}
	backing := s.fs(source)
	if err := os.MkdirAll(backing, 0o755); err != nil {
		return err
	}
	if err := os.Remove(target); err != nil { // an empty mount point
		return fmt.Errorf("mounting on %s: %w", target, err)
	}
	s.mounted[target] = source
	return os.Symlink(backing, target)
}

func (s *fakeSystem) Unmount(target string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.mounted[target]; !ok {
		return fmt.Errorf("unmounting %s: not mounted", target)
	}
	delete(s.mounted, target)
	if err := os.Remove(target); err != nil {
		return err
	}
	return os.Mkdir(target, 0o755)
}

func (s *fakeSystem) Sync() { s.syncs++ }

func (s *fakeSystem) Reboot() error {
	s.reboots++
	return nil
}

// fs returns the directory standing for the file system on device dev.
func (s *fakeSystem) fs(dev string) string {
	return filepath.Join(s.fsDir, filepath.Base(dev))
}

func writeAttrs(t *testing.T, dir string, attrs map[string]string) {
	t.Helper()
	for name, val := range attrs {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(val+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func link(t *testing.T, at, target string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(at), 0o755); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(filepath.Dir(at), target)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(rel, at); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
}

// faultDisk fails writes or corrupts read-backs of a Disk.
type faultDisk struct {
	Disk
	failWrites   bool
	corruptReads bool
}

func (d *faultDisk) WriteAt(p []byte, off int64) (int, error) {
	if d.failWrites && off >= 2<<20 && off < 8<<20 {
		return 0, errors.New("input/output error")
	}
	return d.Disk.WriteAt(p, off)
}

func (d *faultDisk) ReadAt(p []byte, off int64) (int, error) {
	n, err := d.Disk.ReadAt(p, off)
	if d.corruptReads && n > 0 && off >= 2<<20 {
		p[0] ^= 1
	}
	return n, err
}

func contains(s string, subs ...string) error {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return fmt.Errorf("missing %q", sub)
		}
	}
	return nil
}
