// Package disk reads and repairs partition tables (MBR with an EBR chain,
// GPT) and probes the file systems in them (vfat, ext2/3/4), over plain
// io.ReaderAt and io.WriterAt, so it works the same on a block device, an
// image file or a stream of an image, and needs no root.
package disk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Table is a disk's partition table.
type Table struct {
	Kind       string // "mbr" or "gpt"
	SectorSize int    // logical sector size the table was read with
	Partitions []Partition

	// DiskSignature is the 32-bit MBR disk signature (bytes 440 to 443 of
	// the first sector), read on GPT disks too, from the protective MBR.
	DiskSignature uint32
	// DiskGUID is the GPT disk GUID in its on-disk (mixed-endian) byte
	// order; zero on MBR.
	DiskGUID [16]byte
}

// Partition is one entry of a partition table, with what its file system
// says about itself.
type Partition struct {
	Number int    // kernel partition number: vda1 is 1; logical MBR partitions are 5 and up
	Start  int64  // byte offset from the start of the disk
	Size   int64  // bytes
	Type   string // MBR type byte as "0x0e", or the GPT type GUID in lower case
	Name   string // GPT partition name; empty on MBR
	FSType string // probed: "vfat", "ext2", "ext3", "ext4", or empty when unknown
	Label  string // probed file system label

	// UniqueGUID is the GPT unique partition GUID in its on-disk
	// (mixed-endian) byte order, the order UEFI device paths use; zero on MBR.
	UniqueGUID [16]byte
}

// End returns the byte offset just past the partition.
func (p Partition) End() int64 { return p.Start + p.Size }

// Extended reports whether p is an MBR extended partition, a container of
// logical partitions with no file system of its own.
func (p Partition) Extended() bool {
	return p.Type == "0x05" || p.Type == "0x0f" || p.Type == "0x85"
}

// ErrNoTable means the disk has no MBR signature at all.
var ErrNoTable = errors.New("no partition table (no MBR signature)")

// maxLogical bounds an EBR chain, so a looping chain cannot run forever.
const maxLogical = 128

// ReadTable reads the partition table of a disk of size bytes (0 when not
// known, as for a stream) and probes every partition's file system.
// sectorSize is the logical sector size; 0 tries 512, then 4096 for GPT.
//
// Every read is at an offset no lower than the previous read's, so r may be
// a stream seen through a window (see package image).
func ReadTable(r io.ReaderAt, size int64, sectorSize int) (*Table, error) {
	if sectorSize != 0 && sectorSize != 512 && sectorSize != 4096 {
		return nil, fmt.Errorf("reading partition table: sector size %d, want 512 or 4096", sectorSize)
	}
	mbr := make([]byte, 512)
	if _, err := r.ReadAt(mbr, 0); err != nil {
		return nil, fmt.Errorf("reading MBR: %w", err)
	}
	if mbr[510] != 0x55 || mbr[511] != 0xaa {
		return nil, ErrNoTable
	}
	var t *Table
	var err error
	if isProtective(mbr) {
		t, err = readGPT(r, size, sectorSize)
	} else {
		t, err = readMBR(r, mbr, size, sectorSize)
	}
	if err != nil {
		return nil, err
	}
	if err := t.checkBounds(size); err != nil {
		return nil, err
	}
	t.DiskSignature = binary.LittleEndian.Uint32(mbr[440:])
	return t, nil
}

// checkBounds refuses partitions that overlap each other or, when the disk
// size is known, pass its end.
func (t *Table) checkBounds(size int64) error {
	for _, p := range t.Partitions {
		if p.Start < 0 || p.Size < 0 || p.End() < p.Start {
			return fmt.Errorf("partition %d has a bad extent", p.Number)
		}
		if size > 0 && p.End() > size {
			return fmt.Errorf("partition %d ends at byte %d, beyond the disk's end at %d",
				p.Number, p.End(), size)
		}
	}
	return nil
}

// Find returns the first partition whose GPT name or file system label is
// one of names, trying names in order.
func (t *Table) Find(names ...string) (Partition, bool) {
	for _, n := range names {
		for _, p := range t.Partitions {
			if n != "" && (p.Name == n || p.Label == n) {
				return p, true
			}
		}
	}
	return Partition{}, false
}

// Number returns the partition with kernel number n.
func (t *Table) Number(n int) (Partition, bool) {
	for _, p := range t.Partitions {
		if p.Number == n {
			return p, true
		}
	}
	return Partition{}, false
}
