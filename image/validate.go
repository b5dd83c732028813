package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sirupsen/logrus"

	"github.com/takeover-dev/takeover/disk"
	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/plan"
	"github.com/takeover-dev/takeover/progress"
)

// Options tune Validate.
type Options struct {
	MaxRawSize int64              // the target disk's size in bytes; 0 skips the check
	Log        logrus.FieldLogger // nil discards
	TTY        io.Writer          // set to redraw a progress line on a terminal
}

// ErrTooLarge means the raw image is larger than the target disk.
var ErrTooLarge = errors.New("image larger than the target disk")

// Names of the partitions a balenaOS image must have, old names first.
var (
	BootNames    = []string{"resin-boot", "balena-boot"}
	DataNames    = []string{"resin-data", "balena-data"}
	FlasherNames = []string{"flash-boot", "flash-rootA"}
)

// Validate decompresses the image file at path once, start to end, and
// checks it is a balenaOS disk image that fits a disk of o.MaxRawSize
// bytes. It returns the image's description for the plan; the caller sets
// Path to where the image will be inside the initramfs. Every error is
// tagged exitcode.Fetch and names the fix.
func Validate(ctx context.Context, path string, o Options) (*plan.Image, error) {
	im, err := validate(ctx, path, o)
	if err != nil {
		return nil, exitcode.With(exitcode.Fetch, fmt.Errorf("validating image %s: %w", path, err))
	}
	return im, nil
}

func validate(ctx context.Context, path string, o Options) (*plan.Image, error) {
	log := o.Log
	if log == nil {
		log = discard()
	}
	size, format, err := inspect(path)
	if err != nil {
		return nil, err
	}

	log.WithFields(logrus.Fields{"image": path, "compression": format, "bytes": size}).
		Info("validating image")
	d, tab, err := scan(ctx, path, format, size, o, log)
	if err != nil {
		return nil, err
	}

	if err := checkLayout(tab, d.rawSize); err != nil {
		return nil, err
	}

	im := describe(path, format, d, tab)
	log.WithFields(logrus.Fields{"image": path, "rawBytes": im.RawSize, "table": im.Table,
		"sha256": im.SHA256, "rawSha256": im.RawSHA256}).Info("image valid")
	return im, nil
}

func discard() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// inspect refuses an empty file and detects the format.
func inspect(path string) (int64, Format, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, "", fmt.Errorf("reading image: %w", err)
	}
	if !st.Mode().IsRegular() {
		return 0, "", fmt.Errorf("image is not a regular file: pass the downloaded image file")
	}
	if st.Size() == 0 {
		return 0, "", errors.New("image is empty: download it again")
	}
	f, err := DetectFile(path)
	return st.Size(), f, err
}

// scan runs the decompression pass and reads the partition table from the
// raw stream as it goes by.
func scan(ctx context.Context, path string, format Format, size int64, o Options,
	log logrus.FieldLogger) (digests, *disk.Table, error) {
	w := newWindow()
	var tab *disk.Table
	var tabErr error
	parsed := make(chan struct{})
	go func() {
		defer close(parsed)
		defer w.close()
		tab, tabErr = disk.ReadTable(w, 0, 0)
	}()

	var pos int64
	sink := func(b []byte) error {
		pos += int64(len(b))
		if o.MaxRawSize > 0 && pos > o.MaxRawSize {
			return fmt.Errorf("%w: more than %d bytes raw, the disk has %d: "+
				"use a larger disk or the image for this device", ErrTooLarge, pos, o.MaxRawSize)
		}
		w.feed(b)
		return nil
	}
	counter := &progress.Counter{}
	rep := progress.Start(log, counter, progress.Options{Phase: "validate", Total: size, TTY: o.TTY})
	d, err := (&pass{path: path, format: format, sink: sink, counter: counter}).run(ctx)
	rep.Stop()
	w.end()
	<-parsed

	switch {
	case err != nil:
		return d, nil, withFix(format, err)
	case errors.Is(tabErr, disk.ErrNoTable):
		return d, nil, errors.New("image has no partition table: is it a balenaOS disk image?")
	case tabErr != nil:
		return d, nil, fmt.Errorf("reading partition table: %w: is the image complete?", tabErr)
	}
	return d, tab, nil
}

// withFix adds the usual remedy to a read or decompression failure.
func withFix(f Format, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if f == Raw || errors.Is(err, ErrTooLarge) {
		return err
	}
	return fmt.Errorf("%w: the file is truncated or corrupt, download it again", err)
}

// checkLayout refuses flasher images, images without the boot or data
// partition, and partitions beyond the image's end.
func checkLayout(tab *disk.Table, rawSize int64) error {
	if p, ok := tab.Find(FlasherNames...); ok {
		return fmt.Errorf("image is a flasher image (partition %d is %s%s): use the raw image; "+
			"takeover downloads it with imageType raw", p.Number, p.Label, p.Name)
	}
	boot, ok := tab.Find(BootNames...)
	if !ok || boot.FSType != "vfat" {
		return errors.New("image has no vfat boot partition labelled resin-boot or balena-boot: " +
			"is it a balenaOS image?")
	}
	data, ok := tab.Find(DataNames...)
	if !ok || data.FSType != "ext4" {
		return errors.New("image has no ext4 data partition labelled resin-data or balena-data: " +
			"is it a balenaOS image?")
	}
	for _, p := range tab.Partitions {
		if p.End() > rawSize {
			return fmt.Errorf("partition %d ends at byte %d, beyond the image's end at %d: "+
				"the image is truncated, download it again", p.Number, p.End(), rawSize)
		}
	}
	return nil
}

// describe fills the plan's image description.
func describe(path string, f Format, d digests, tab *disk.Table) *plan.Image {
	im := &plan.Image{Path: path, Compression: string(f), Size: d.size, SHA256: d.sha,
		RawSize: d.rawSize, RawSHA256: d.rawSHA, Table: tab.Kind}
	for _, p := range tab.Partitions {
		name := p.Label
		if name == "" {
			name = p.Name
		}
		if p.Extended() || name == "" {
			continue
		}
		im.Partitions = append(im.Partitions, plan.Partition{Name: name, Number: p.Number,
			Start: p.Start, Size: p.Size, FSType: p.FSType})
	}
	return im
}
