// Package testimage builds small synthetic balenaOS disk images for tests,
// without root or loop devices: sfdisk writes the partition table into a
// sparse file, mkfs.vfat --offset and mtools fill the boot partition, and
// mke2fs -E offset= -d fills the ext4 partitions from staging directories.
//
// The layout follows meta-balena's (boot, rootA, rootB, state, data; MBR
// with an extended partition holding state and data as logical partitions
// 5 and 6, or GPT with names equal to the labels), scaled down to a few MiB
// per partition and aligned to 1 MiB instead of 4 MiB.
package testimage

import (
	"fmt"
	"regexp"
)

// Options describe the image to build.
type Options struct {
	Table      string // "mbr" (default) or "gpt"
	Flasher    bool   // flash-* labels and no os-release, like a flasher image
	DeviceType string // default genericx86-64-ext
	Version    string // balenaOS version, default 6.0.0
	Size       int64  // total bytes, default 64 MiB, at least 48 MiB, whole MiB
	Marker     string // printed by the bootable rootA's init; [A-Za-z0-9._:-]
	Gzip       bool   // gzip the image
	Busybox    string // path of a static busybox; makes rootA bootable
	DataFill   int64  // bytes of semi-compressible filler in data:/filler.bin
}

// Partition is one partition of the layout.
type Partition struct {
	Number int
	Label  string // file system label; on GPT also the partition name
	Start  int64  // bytes
	Size   int64  // bytes
	FSType string // vfat, ext4, or "" for the extended partition
	Type   string // sfdisk type: "e", "83", "f", or a GPT type GUID
}

const (
	mib         = int64(1) << 20
	defaultSize = 64 * mib
	minSize     = 48 * mib

	guidESP   = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	guidLinux = "0FC63DAF-8483-4772-8E79-3D69ED7D8E4C"
)

var markerRE = regexp.MustCompile(`^[A-Za-z0-9._:-]*$`)

// withDefaults fills unset options and checks the rest.
func (o Options) withDefaults() (Options, error) {
	if o.Table == "" {
		o.Table = "mbr"
	}
	if o.DeviceType == "" {
		o.DeviceType = "genericx86-64-ext"
	}
	if o.Version == "" {
		o.Version = "6.0.0"
	}
	if o.Size == 0 {
		o.Size = defaultSize
	}
	switch {
	case o.Table != "mbr" && o.Table != "gpt":
		return o, fmt.Errorf("table %q, want mbr or gpt", o.Table)
	case o.Size < minSize || o.Size%mib != 0:
		return o, fmt.Errorf("size %d, want whole MiB of at least %d", o.Size, minSize)
	case !markerRE.MatchString(o.Marker):
		return o, fmt.Errorf("marker %q has characters other than [A-Za-z0-9._:-]", o.Marker)
	case !markerRE.MatchString(o.DeviceType) || !markerRE.MatchString(o.Version):
		return o, fmt.Errorf("device type %q or version %q has odd characters", o.DeviceType, o.Version)
	}
	return o, nil
}

// Prefix is "resin" for an ordinary image and "flash" for a flasher.
func (o Options) Prefix() string {
	if o.Flasher {
		return "flash"
	}
	return "resin"
}

// Layout returns the partitions Build will create for o, in number order.
func Layout(o Options) ([]Partition, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	pre := o.Prefix()
	ps := []Partition{
		{Number: 1, Label: pre + "-boot", Start: 1 * mib, Size: 12 * mib, FSType: "vfat", Type: "e"},
		{Number: 2, Label: pre + "-rootA", Start: 13 * mib, Size: 10 * mib, FSType: "ext4", Type: "83"},
		{Number: 3, Label: pre + "-rootB", Start: 23 * mib, Size: 10 * mib, FSType: "ext4", Type: "83"},
	}
	if o.Table == "gpt" {
		ps[0].Type = guidESP
		for i := 1; i < 3; i++ {
			ps[i].Type = guidLinux
		}
		ps = append(ps,
			Partition{Number: 4, Label: pre + "-state", Start: 33 * mib, Size: 4 * mib,
				FSType: "ext4", Type: guidLinux},
			Partition{Number: 5, Label: pre + "-data", Start: 37 * mib, Size: o.Size - 38*mib,
				FSType: "ext4", Type: guidLinux})
	} else {
		ps = append(ps,
			Partition{Number: 4, Start: 33 * mib, Size: o.Size - 33*mib, Type: "f"},
			Partition{Number: 5, Label: pre + "-state", Start: 34 * mib, Size: 4 * mib,
				FSType: "ext4", Type: "83"},
			Partition{Number: 6, Label: pre + "-data", Start: 39 * mib, Size: o.Size - 39*mib,
				FSType: "ext4", Type: "83"})
	}
	data := ps[len(ps)-1]
	if need := o.DataFill + o.DataFill/8 + 4*mib; o.DataFill > 0 && data.Size < need {
		return nil, fmt.Errorf("data partition of %d bytes too small for %d bytes of filler: "+
			"raise Size", data.Size, o.DataFill)
	}
	return ps, nil
}
