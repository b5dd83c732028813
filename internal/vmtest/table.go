package vmtest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const sectorSize = 512

// Partition is one entry of a disk image's partition table, in bytes.
type Partition struct {
	Number int    // kernel partition number (vda1 is 1)
	Start  int64  // byte offset from the start of the disk
	Size   int64  // bytes
	Name   string // GPT partition name; "" on MBR
	Label  string // file system label (vfat or ext4), "" when none is found
}

// End is the first byte past the partition.
func (p Partition) End() int64 { return p.Start + p.Size }

// Table is a disk image's partition table.
type Table struct {
	Kind       string // "mbr" or "gpt"
	Partitions []Partition
}

// ByLabel returns the partition whose file system label or GPT name is label.
func (t Table) ByLabel(label string) (Partition, bool) {
	for _, p := range t.Partitions {
		if p.Label == label || p.Name == label {
			return p, true
		}
	}
	return Partition{}, false
}

// ReadTable reads the partition table (MBR primary partitions, or GPT) of
// the disk image r and each partition's file system label.
func ReadTable(r io.ReaderAt) (Table, error) {
	mbr := make([]byte, sectorSize)
	if _, err := r.ReadAt(mbr, 0); err != nil {
		return Table{}, fmt.Errorf("reading MBR: %w", err)
	}
	if mbr[510] != 0x55 || mbr[511] != 0xaa {
		return Table{}, errors.New("reading MBR: no boot signature 55aa")
	}
	var t Table
	var err error
	if mbr[446+4] == 0xee {
		t, err = readGPT(r)
	} else {
		t, err = readMBR(r, mbr)
	}
	if err != nil {
		return Table{}, err
	}
	for i := range t.Partitions {
		t.Partitions[i].Label = fsLabel(r, t.Partitions[i].Start)
	}
	return t, nil
}

func readMBR(r io.ReaderAt, mbr []byte) (Table, error) {
	t := Table{Kind: "mbr"}
	for i := range 4 {
		typ, start, size := mbrEntry(mbr, i)
		if typ == 0 || size == 0 {
			continue
		}
		t.Partitions = append(t.Partitions, Partition{
			Number: i + 1, Start: start * sectorSize, Size: size * sectorSize,
		})
		if isExtended(typ) {
			logical, err := readLogical(r, start)
			if err != nil {
				return Table{}, err
			}
			t.Partitions = append(t.Partitions, logical...)
		}
	}
	return t, nil
}

func mbrEntry(sector []byte, i int) (typ byte, start, size int64) {
	e := sector[446+16*i : 446+16*(i+1)]
	return e[4], int64(binary.LittleEndian.Uint32(e[8:])), int64(binary.LittleEndian.Uint32(e[12:]))
}

func isExtended(typ byte) bool { return typ == 0x05 || typ == 0x0f || typ == 0x85 }

// readLogical follows the chain of extended boot records that starts at
// sector ext: each holds one logical partition (relative to itself) and a
// link to the next record (relative to ext).
func readLogical(r io.ReaderAt, ext int64) ([]Partition, error) {
	var parts []Partition
	ebr := make([]byte, sectorSize)
	for at, n := ext, 5; n < 64; n++ {
		if _, err := r.ReadAt(ebr, at*sectorSize); err != nil {
			return nil, fmt.Errorf("reading extended boot record at sector %d: %w", at, err)
		}
		if ebr[510] != 0x55 || ebr[511] != 0xaa {
			return nil, fmt.Errorf("reading extended boot record at sector %d: no signature", at)
		}
		if typ, start, size := mbrEntry(ebr, 0); typ != 0 && size != 0 {
			parts = append(parts, Partition{
				Number: n, Start: (at + start) * sectorSize, Size: size * sectorSize,
			})
		}
		typ, next, _ := mbrEntry(ebr, 1)
		if !isExtended(typ) || next == 0 {
			return parts, nil
		}
		at = ext + next
	}
	return nil, fmt.Errorf("reading extended partition at sector %d: chain too long", ext)
}

func readGPT(r io.ReaderAt) (Table, error) {
	hdr := make([]byte, sectorSize)
	if _, err := r.ReadAt(hdr, sectorSize); err != nil {
		return Table{}, fmt.Errorf("reading GPT header: %w", err)
	}
	if string(hdr[:8]) != "EFI PART" {
		return Table{}, errors.New("reading GPT header: no EFI PART signature at LBA 1")
	}
	entriesLBA := int64(binary.LittleEndian.Uint64(hdr[72:]))
	count := int(binary.LittleEndian.Uint32(hdr[80:]))
	entrySize := int(binary.LittleEndian.Uint32(hdr[84:]))
	if count > 1024 || entrySize < 128 || entrySize > 4096 {
		return Table{}, fmt.Errorf("reading GPT header: implausible %d entries of %d bytes",
			count, entrySize)
	}
	entries := make([]byte, count*entrySize)
	if _, err := r.ReadAt(entries, entriesLBA*sectorSize); err != nil {
		return Table{}, fmt.Errorf("reading GPT entries: %w", err)
	}
	t := Table{Kind: "gpt"}
	for i := range count {
		e := entries[i*entrySize : (i+1)*entrySize]
		if bytes.Equal(e[:16], make([]byte, 16)) {
			continue
		}
		first := int64(binary.LittleEndian.Uint64(e[32:]))
		last := int64(binary.LittleEndian.Uint64(e[40:]))
		t.Partitions = append(t.Partitions, Partition{
			Number: i + 1,
			Start:  first * sectorSize,
			Size:   (last - first + 1) * sectorSize,
			Name:   utf16Name(e[56:128]),
		})
	}
	return t, nil
}

func utf16Name(b []byte) string {
	var r []rune
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		r = append(r, rune(c))
	}
	return string(r)
}

// fsLabel reads an ext2/3/4 or FAT label at a partition's start; "" when the
// partition holds neither.
func fsLabel(r io.ReaderAt, start int64) string {
	sb := make([]byte, 2048)
	if n, _ := r.ReadAt(sb, start); n < len(sb) {
		return ""
	}
	if binary.LittleEndian.Uint16(sb[1024+0x38:]) == 0xef53 {
		return trimLabel(sb[1024+0x78 : 1024+0x88])
	}
	if sb[510] != 0x55 || sb[511] != 0xaa {
		return ""
	}
	if string(sb[0x52:0x57]) == "FAT32" {
		return trimLabel(sb[0x47 : 0x47+11])
	}
	if string(sb[0x36:0x39]) == "FAT" {
		return trimLabel(sb[0x2b : 0x2b+11])
	}
	return ""
}

func trimLabel(b []byte) string {
	return string(bytes.TrimRight(bytes.TrimRight(b, "\x00"), " "))
}
