package stage2init

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/takeover-dev/takeover/blockdev"
	"github.com/takeover-dev/takeover/flash"
	"github.com/takeover-dev/takeover/logging"
	"github.com/takeover-dev/takeover/plan"
)

// minMemAvailable is the memory stage2 needs beside the payload: the
// pipeline's buffers, dirty pages between syncs and the Go runtime.
const minMemAvailable = 64 << 20

// flashRetries is how many times a failed write or verify is retried.
const flashRetries = 2

func (r *run) readPlans(context.Context) error {
	p, err := plan.ReadPayload(r.cfg.PayloadPlan)
	if err != nil {
		return err
	}
	d, err := plan.ReadDevice(r.cfg.DevicePlan)
	if err != nil {
		return err
	}
	r.payload, r.device = p, d
	if p.Log.Level != "" {
		lvl, err := logging.ParseLevel(p.Log.Level)
		if err != nil {
			return fmt.Errorf("reading log level: %w", err)
		}
		r.log.SetLevel(lvl)
	}
	r.log.WithField("image", p.Image.Path).WithField("disk", d.Disk.SysfsPath).
		WithField("pretend", p.Options.Pretend).Info("plan read")
	return nil
}

func (r *run) loadModules(context.Context) error {
	if len(r.device.Modules) == 0 {
		r.log.Info("no kernel modules to load")
		return nil
	}
	return r.sys.LoadModules(r.cfg.ModulesDir, r.device.Modules, r.log)
}

// checkInitramfs refuses to go on if the kernel could not unpack all of
// the initramfs: the payload may then be cut short.
func (r *run) checkInitramfs(context.Context) error {
	klog, err := r.sys.KernelLog()
	if err != nil {
		r.log.WithError(err).Warn("cannot read the kernel log to check the initramfs")
		return nil
	}
	if i := bytes.Index(klog, []byte("Initramfs unpacking failed")); i >= 0 {
		line, _, _ := bytes.Cut(klog[i:], []byte("\n"))
		return fmt.Errorf("the kernel reported %q: the initramfs is incomplete "+
			"(too little memory, or a truncated or corrupt archive)", line)
	}
	return nil
}

// checkPayload checks the image file against the plan and that every file
// to write exists, so that nothing missing is found after the disk is gone.
func (r *run) checkPayload(context.Context) error {
	im := r.payload.Image
	start := time.Now()
	size, sum, err := digestFile(im.Path)
	if err != nil {
		return err
	}
	if size != im.Size || sum != im.SHA256 {
		return fmt.Errorf("image %s is %d bytes with sha256 %s, the plan says %d bytes "+
			"with sha256 %s", im.Path, size, sum, im.Size, im.SHA256)
	}
	r.log.WithField("image", im.Path).WithField("bytes", size).
		WithField("duration", time.Since(start).Round(time.Millisecond)).Info("image checked")
	for _, f := range r.payload.Files {
		fi, err := os.Stat(f.Source)
		if err != nil {
			return fmt.Errorf("checking file to write: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("checking file to write: %s is not a regular file", f.Source)
		}
	}
	return nil
}

func digestFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", fmt.Errorf("checking image: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("checking image: reading %s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

func (r *run) checkMemory(context.Context) error {
	avail, err := memAvailable(filepath.Join(r.cfg.ProcRoot, "meminfo"))
	if err != nil {
		return err
	}
	r.log.WithField("bytes", avail).Info("memory available")
	if avail < minMemAvailable {
		return fmt.Errorf("only %d MiB of memory available, need %d MiB beside the payload",
			avail>>20, minMemAvailable>>20)
	}
	return nil
}

// memAvailable reads MemAvailable from a meminfo file, in bytes.
func memAvailable(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("reading memory info: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing MemAvailable in %s: %w", path, err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	return 0, fmt.Errorf("reading %s: no MemAvailable line", path)
}

func (r *run) findDisk(ctx context.Context) error {
	want := r.device.Disk
	name, err := blockdev.WaitFind(ctx, r.cfg.SysRoot, want, r.cfg.FindTimeout)
	if err != nil {
		return err
	}
	got, err := blockdev.Identify(r.cfg.SysRoot, name)
	if err != nil {
		return err
	}
	if blockdev.PathMoved(want, got) {
		r.log.WithField("was", want.SysfsPath).WithField("now", got.SysfsPath).
			Warn("disk moved on the bus; accepted on matching serial or WWN and size")
	}
	r.disk = name
	r.log.WithField("disk", r.diskPath()).WithField("bytes", got.Size).Info("disk found")
	return waitPath(ctx, r.diskPath(), r.cfg.FindTimeout)
}

func (r *run) diskPath() string { return filepath.Join(r.cfg.DevDir, r.disk) }

// tryDisk opens the disk exclusively and closes it again: the kernel
// refuses if anything still holds it. A pretend run ends here.
func (r *run) tryDisk(context.Context) error {
	d, err := r.sys.OpenDisk(r.diskPath())
	if err != nil {
		return err
	}
	if err := d.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", r.diskPath(), err)
	}
	if r.payload.Options.Pretend {
		return errPretend
	}
	return nil
}

func (r *run) flash(ctx context.Context) error {
	d, err := r.sys.OpenDisk(r.diskPath())
	if err != nil {
		return err
	}
	defer d.Close()
	im := r.payload.Image
	r.log.WithField("disk", r.diskPath()).WithField("bytes", im.RawSize).Info("flashing image")
	r.written = true // a panic in flash.Run keeps it so: nothing says the disk is untouched
	res, err := flash.Run(ctx, flash.Options{
		Open:    func() (io.ReadCloser, error) { return r.cfg.OpenImage(im.Path, im.Compression) },
		RawSize: im.RawSize, RawSHA256: im.RawSHA256, Disk: d, Retries: flashRetries,
		Log: r.log, Interval: r.cfg.ProgressInterval,
	})
	r.written = res.Written || err == nil
	if err != nil {
		return err
	}
	r.sha = res.SHA256
	r.log.marker(markerFlashed)
	r.log.marker("%s sha256=%s", markerVerified, res.SHA256)
	if err := d.Close(); err != nil { // before BLKRRPART, which the exclusive open blocks
		return fmt.Errorf("closing %s: %w", r.diskPath(), err)
	}
	return nil
}

// waitPath waits until path exists: devtmpfs creates nodes as the kernel
// registers devices.
func waitPath(ctx context.Context, path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, err := os.Stat(path)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting %s for %s: %w", timeout, path, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", path, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
