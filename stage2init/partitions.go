package stage2init

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/takeover-dev/takeover/blockdev"
	"github.com/takeover-dev/takeover/plan"
)

// part is a partition of the flashed disk that matched the plan.
type part struct {
	plan.Partition
	dev string // device node, e.g. /dev/vda1
}

// dataNames are the names balenaOS gives its data partition.
var dataNames = []string{"resin-data", "balena-data"}

// errMissing means the kernel does not list a partition (yet).
var errMissing = errors.New("partition not listed by the kernel")

func (r *run) rereadPartitions(ctx context.Context) error {
	return r.sys.RereadPartitions(ctx, r.diskPath())
}

// checkPartitions waits for the kernel to list every partition the plan
// names and refuses any whose start or size differs from the plan: files
// are never written into a partition that is not the image's.
func (r *run) checkPartitions(ctx context.Context) error {
	deadline := time.Now().Add(r.cfg.PartitionTimeout)
	for {
		parts, err := r.matchPartitions()
		if err == nil {
			r.parts = parts
			break
		}
		if !errors.Is(err, errMissing) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	for name, p := range r.parts {
		if err := waitPath(ctx, p.dev, r.cfg.PartitionTimeout); err != nil {
			return err
		}
		r.log.WithField("partition", name).WithField("device", p.dev).Debug("partition checked")
	}
	return nil
}

func (r *run) matchPartitions() (map[string]part, error) {
	seen, err := blockdev.Partitions(r.cfg.SysRoot, r.disk)
	if err != nil {
		return nil, err
	}
	byNumber := map[int]blockdev.Part{}
	for _, s := range seen {
		byNumber[s.Number] = s
	}
	parts := map[string]part{}
	for _, want := range r.payload.Image.Partitions {
		got, ok := byNumber[want.Number]
		if !ok {
			return nil, fmt.Errorf("finding partition %d (%s) of %s: %w", want.Number, want.Name,
				r.disk, errMissing)
		}
		if got.Start != want.Start || got.Size != want.Size {
			return nil, fmt.Errorf("partition %s (%s) starts at byte %d with %d bytes, the plan "+
				"says %d with %d bytes: refusing to write into it", got.Name, want.Name,
				got.Start, got.Size, want.Start, want.Size)
		}
		parts[want.Name] = part{Partition: want, dev: filepath.Join(r.cfg.DevDir, got.Name)}
	}
	return parts, nil
}

// dataPartition returns the image's data partition, if the plan names one.
func (r *run) dataPartition() (part, bool) {
	for _, n := range dataNames {
		if p, ok := r.parts[n]; ok {
			return p, true
		}
	}
	return part{}, false
}

// mount mounts partition p and returns where.
func (r *run) mount(p part) (string, error) {
	target := filepath.Join(r.cfg.MountDir, p.Name)
	if err := os.MkdirAll(target, 0o755); err != nil {
		return "", fmt.Errorf("creating mount point: %w", err)
	}
	if err := r.sys.Mount(p.dev, target, p.FSType); err != nil {
		return "", err
	}
	return target, nil
}
