package boot

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/takeover-dev/takeover/plan"
)

// oldRootFileSystems are the root file systems stage2 can mount with the
// modules it carries (the ext4 driver also serves ext2 and ext3).
var oldRootFileSystems = map[string]bool{"ext4": true, "ext3": true, "ext2": true, "vfat": true}

// rootMount is the mount of / as /proc/self/mountinfo lists it.
type rootMount struct {
	devno  string // major:minor
	fsType string
}

// oldRoot names the partition of the target disk that holds / when stage2
// can mount it, so that stage2 can leave its log there after a run that
// ended before the first write. Otherwise it logs why not and returns nil:
// the field is optional and never stops the boot.
func oldRoot(o Options, target plan.DiskIdentity) *plan.DiskIdentity {
	id, err := findOldRoot(o, target)
	if err != nil {
		o.Log.WithField("reason", err.Error()).
			Info("stage2 cannot keep its log on the old root after a failure")
		return nil
	}
	o.Log.WithFields(logrus.Fields{"disk": id.Name, "partition": id.Partition,
		"fstype": id.FSType}).Info("stage2 keeps its log on the old root after a failure")
	return id
}

// findOldRoot returns the target disk's identity with the partition
// number and file system of /, or why / does not qualify.
func findOldRoot(o Options, target plan.DiskIdentity) (*plan.DiskIdentity, error) {
	m, err := readRootMount(filepath.Join(o.ProcRoot, "self", "mountinfo"))
	if err != nil {
		return nil, err
	}
	if !oldRootFileSystems[m.fsType] {
		return nil, fmt.Errorf("/ is %s, stage2 mounts only ext4, ext3, ext2 or vfat", m.fsType)
	}
	if strings.HasPrefix(m.devno, "0:") {
		return nil, fmt.Errorf("/ is on device %s, not on a block device", m.devno)
	}
	dev, err := filepath.EvalSymlinks(filepath.Join(o.SysRoot, "dev", "block", m.devno))
	if err != nil {
		return nil, fmt.Errorf("resolving the device of / (%s): %w", m.devno, err)
	}
	name := filepath.Base(dev)
	n, err := partitionNumber(o.SysRoot, name)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("/ is on %s, not on a partition (LVM, device-mapper, md "+
			"or a whole disk)", name)
	}
	disk, err := parentDisk(o.SysRoot, name)
	if err != nil {
		return nil, err
	}
	if disk != target.Name {
		return nil, fmt.Errorf("/ is on %s, not on the disk being flashed (%s)", name, target.Name)
	}
	id := target
	id.Partition, id.FSType = n, m.fsType
	return &id, nil
}

// readRootMount returns the topmost mount of / in a mountinfo file.
func readRootMount(path string) (rootMount, error) {
	f, err := os.Open(path)
	if err != nil {
		return rootMount{}, fmt.Errorf("reading mount table: %w", err)
	}
	defer f.Close()
	var root rootMount
	found := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if m, ok := parseRootMount(sc.Text()); ok {
			root, found = m, true // a later mount of / hides an earlier one
		}
	}
	if err := sc.Err(); err != nil {
		return rootMount{}, fmt.Errorf("reading %s: %w", path, err)
	}
	if !found {
		return rootMount{}, fmt.Errorf("reading %s: no mount of /", path)
	}
	return root, nil
}

// parseRootMount parses one mountinfo line if it is a mount of /:
// id parent major:minor root mountpoint options [optional...] - fstype source superopts.
func parseRootMount(line string) (rootMount, bool) {
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[4] != "/" {
		return rootMount{}, false
	}
	for i := 5; i+1 < len(fields); i++ {
		if fields[i] == "-" {
			return rootMount{devno: fields[2], fsType: fields[i+1]}, true
		}
	}
	return rootMount{}, false
}
