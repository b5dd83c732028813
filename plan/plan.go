// Package plan is the contract between stage1 and stage2: two versioned JSON
// documents carried in the initramfs that tell stage2 everything it needs and
// nothing it must guess.
//
// The payload half is written by build-initrd (portable, any machine); the
// device half is written by boot on the device itself (target disk identity,
// kernel modules, log device).
package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Version is the plan format version. stage2 refuses any other.
const Version = 1

// Paths inside the initramfs.
const (
	Dir             = "/takeover"
	PayloadPlanPath = Dir + "/payload.json"
	DevicePlanPath  = Dir + "/device.json"
	ImageDir        = Dir + "/image"
	ConfigJSONPath  = Dir + "/config.json"
	ConnectionsDir  = Dir + "/system-connections"
	ProxyDir        = Dir + "/system-proxy"
	BackupPath      = Dir + "/backup.tgz"
	ModulesDir      = Dir + "/modules"
)

// Payload is the portable half of the plan, written by build-initrd.
type Payload struct {
	Version   int     `json:"version"`
	CreatedBy string  `json:"createdBy"` // takeover version that wrote it
	Arch      string  `json:"arch"`      // GOARCH of /init, e.g. "arm64"
	Image     Image   `json:"image"`
	Files     []File  `json:"files"`
	Log       Log     `json:"log"`
	Options   Options `json:"options"`
}

// Image describes the balenaOS image carried in the initramfs, as validated
// by stage1 before anything destructive happened.
type Image struct {
	Path        string      `json:"path"`        // absolute path inside the initramfs
	Compression string      `json:"compression"` // none, gzip, zstd, xz
	Size        int64       `json:"size"`        // bytes of the file as carried
	SHA256      string      `json:"sha256"`      // hex digest of the file as carried
	RawSize     int64       `json:"rawSize"`     // bytes after decompression
	RawSHA256   string      `json:"rawSha256"`   // hex digest after decompression
	Table       string      `json:"table"`       // mbr or gpt
	Partitions  []Partition `json:"partitions"`  // the image's partitions that stage2 uses
}

// Partition is a partition of the image, as its partition table says.
type Partition struct {
	Name   string `json:"name"`   // file system label or GPT name, e.g. resin-boot
	Number int    `json:"number"` // kernel partition number (vda1 is 1)
	Start  int64  `json:"start"`  // byte offset from the start of the disk
	Size   int64  `json:"size"`   // bytes
	FSType string `json:"fsType"` // vfat or ext4
}

// File is one file stage2 writes into a partition after flashing.
type File struct {
	Source    string `json:"source"`    // absolute path inside the initramfs
	Partition string `json:"partition"` // Partition.Name it goes to
	Target    string `json:"target"`    // path inside that partition's file system
	Mode      uint32 `json:"mode"`      // permission bits
}

// Log says where and how stage2 logs.
type Log struct {
	Level            string `json:"level"`
	FallbackLog      bool   `json:"fallbackLog"`
	FallbackFilename string `json:"fallbackFilename"`
	FallbackDir      string `json:"fallbackDir"`
}

// Options are the switches of the run that stage2 honours.
type Options struct {
	Pretend           bool   `json:"pretend"`
	EFISetup          bool   `json:"efiSetup"`
	ChangeDTTo        string `json:"changeDtTo,omitempty"`
	ReportHUPProgress bool   `json:"reportHupProgress"`
	APIEndpoint       string `json:"apiEndpoint,omitempty"`
	UUID              string `json:"uuid,omitempty"`
}

// Device is the half of the plan written on the device by boot.
type Device struct {
	Version       int           `json:"version"`
	KernelRelease string        `json:"kernelRelease"` // uname -r of the kernel stage2 runs
	Disk          DiskIdentity  `json:"disk"`
	LogDevice     *DiskIdentity `json:"logDevice,omitempty"`
	// OldRoot is the partition of the target disk that holds the old OS's
	// root file system: Disk's identity plus the partition number and file
	// system type (ext4, ext3, ext2 or vfat). stage2 leaves its log there
	// when a run ends before the first byte of the disk was written, so the
	// old OS can show why. Nil when / is not on such a partition (LVM, dm,
	// md, btrfs, another disk).
	OldRoot *DiskIdentity `json:"oldRoot,omitempty"`
	Modules []string      `json:"modules"` // paths inside the initramfs, in load order
}

// DiskIdentity identifies a block device across a kexec, where kernel names
// can change. stage2 refuses a disk that does not match every known field.
type DiskIdentity struct {
	Name              string `json:"name"`      // kernel name in stage1, e.g. vda (a hint only)
	SysfsPath         string `json:"sysfsPath"` // e.g. /devices/pci0000:00/0000:00:04.0/virtio1/block/vda
	Size              int64  `json:"size"`      // bytes
	LogicalSectorSize int    `json:"logicalSectorSize"`
	Serial            string `json:"serial,omitempty"`
	WWN               string `json:"wwn,omitempty"`
	Model             string `json:"model,omitempty"`
	Partition         int    `json:"partition,omitempty"` // log device, old root: 0 for a whole disk
	FSType            string `json:"fsType,omitempty"`    // log device, old root: vfat, ext4 ...
}

// Partition returns the image partition with the given name.
func (im Image) Partition(name string) (Partition, bool) {
	for _, p := range im.Partitions {
		if p.Name == name {
			return p, true
		}
	}
	return Partition{}, false
}

// Validate checks the payload half for what stage2 cannot do without.
func (p *Payload) Validate() error {
	if p.Version != Version {
		return fmt.Errorf("plan version %d, want %d", p.Version, Version)
	}
	if p.Image.Path == "" || p.Image.RawSize <= 0 || !isSHA256(p.Image.RawSHA256) || !isSHA256(p.Image.SHA256) {
		return errors.New("plan has no complete image description (path, sizes, lower-case hex digests)")
	}
	for _, f := range p.Files {
		if _, ok := p.Image.Partition(f.Partition); !ok {
			return fmt.Errorf("file %s targets partition %q that the image does not have", f.Source, f.Partition)
		}
	}
	return nil
}

// Validate checks the device half for what stage2 cannot do without.
func (d *Device) Validate() error {
	if d.Version != Version {
		return fmt.Errorf("device plan version %d, want %d", d.Version, Version)
	}
	if d.Disk.Size <= 0 || d.Disk.SysfsPath == "" {
		return errors.New("device plan has no target disk identity (sysfs path and size)")
	}
	return nil
}

// Encode writes v as indented JSON.
func Encode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Marshal returns v as indented JSON.
func Marshal(v any) ([]byte, error) {
	return json.MarshalIndent(v, "", "  ")
}

// Decode reads a plan document, refusing unknown fields and trailing data.
func Decode(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding plan: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("decoding plan: trailing data after the document")
	}
	return nil
}

// isSHA256 reports whether s is a SHA-256 digest as the hex package writes
// it: stage2 compares digests as strings, so an upper-case one would fail
// only after the disk was written.
func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ReadPayload reads and validates the payload half from path.
func ReadPayload(path string) (*Payload, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening payload plan: %w", err)
	}
	defer f.Close()
	var p Payload
	if err := Decode(f, &p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("validating payload plan %s: %w", path, err)
	}
	return &p, nil
}

// ReadDevice reads and validates the device half from path.
func ReadDevice(path string) (*Device, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening device plan: %w", err)
	}
	defer f.Close()
	var d Device
	if err := Decode(f, &d); err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("validating device plan %s: %w", path, err)
	}
	return &d, nil
}
