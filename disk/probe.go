package disk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Probe identifies the file system at byte offset off of r: "vfat" (FAT12,
// FAT16, FAT32), "ext2", "ext3" or "ext4", with its label. An unknown or
// too short file system gives "" and no error; only read errors fail.
//
// Reads go forward only: the first 2 KiB, then, for FAT, the root directory.
func Probe(r io.ReaderAt, off int64) (fsType, label string, err error) {
	head := make([]byte, 2048)
	n, err := r.ReadAt(head, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", "", fmt.Errorf("reading file system header at byte %d: %w", off, err)
	}
	head = head[:n]
	if fs, label, ok := probeExt(head); ok {
		return fs, label, nil
	}
	if bpb, ok := parseBPB(head); ok {
		label, err := bpb.label(r, off)
		return "vfat", label, err
	}
	return "", "", nil
}

// ext superblock fields, relative to the superblock at byte 1024.
const (
	extMagic           = 0xef53
	extCompatJournal   = 0x4
	extIncompatExtents = 0x40
	extIncompat64Bit   = 0x80
	extIncompatFlexBG  = 0x200
)

func probeExt(head []byte) (fsType, label string, ok bool) {
	if len(head) < 2048 {
		return "", "", false
	}
	sb := head[1024:]
	le := binary.LittleEndian
	if le.Uint16(sb[56:]) != extMagic {
		return "", "", false
	}
	compat, incompat := le.Uint32(sb[92:]), le.Uint32(sb[96:])
	label = cString(sb[120:136])
	switch {
	case incompat&(extIncompatExtents|extIncompat64Bit|extIncompatFlexBG) != 0:
		return "ext4", label, true
	case compat&extCompatJournal != 0:
		return "ext3", label, true
	default:
		return "ext2", label, true
	}
}

func cString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// bpb is the part of a FAT BIOS parameter block needed to find the label.
type bpb struct {
	bytesPerSector    int64
	sectorsPerCluster int64
	reserved          int64
	fats              int64
	rootEntries       int64
	fatSectors        int64
	rootCluster       int64 // FAT32 only
	bootLabel         string
}

func parseBPB(b []byte) (bpb, bool) {
	if len(b) < 512 || b[510] != 0x55 || b[511] != 0xaa || (b[0] != 0xeb && b[0] != 0xe9) {
		return bpb{}, false
	}
	le := binary.LittleEndian
	p := bpb{bytesPerSector: int64(le.Uint16(b[11:])), sectorsPerCluster: int64(b[13]),
		reserved: int64(le.Uint16(b[14:])), fats: int64(b[16]),
		rootEntries: int64(le.Uint16(b[17:])), fatSectors: int64(le.Uint16(b[22:]))}
	switch p.bytesPerSector {
	case 512, 1024, 2048, 4096:
	default:
		return bpb{}, false
	}
	spc := p.sectorsPerCluster
	if spc == 0 || spc&(spc-1) != 0 || p.reserved == 0 || p.fats == 0 || p.fats > 4 {
		return bpb{}, false
	}
	labelAt := 43 // FAT12/16 extended boot record
	if p.fatSectors == 0 {
		p.fatSectors = int64(le.Uint32(b[36:]))
		p.rootCluster = int64(le.Uint32(b[44:]))
		labelAt = 71
		if p.fatSectors == 0 || p.rootCluster < 2 {
			return bpb{}, false
		}
	}
	if b[labelAt-5] == 0x29 {
		p.bootLabel = strings.TrimRight(cString(b[labelAt:labelAt+11]), " ")
	}
	if p.bootLabel == "NO NAME" {
		p.bootLabel = ""
	}
	return p, true
}

// maxRootScan bounds how much of the root directory is searched.
const maxRootScan = 64 << 10

// label returns the volume label entry of the root directory, as blkid and
// mkfs.vfat -n do, falling back to the boot sector's copy.
func (p bpb) label(r io.ReaderAt, off int64) (string, error) {
	dirOff := (p.reserved + p.fats*p.fatSectors) * p.bytesPerSector
	dirLen := p.rootEntries * 32
	if p.rootCluster != 0 {
		dirOff += (p.rootCluster - 2) * p.sectorsPerCluster * p.bytesPerSector
		dirLen = p.sectorsPerCluster * p.bytesPerSector
	}
	dirLen = min(dirLen, maxRootScan)
	if dirLen <= 0 || dirOff < 0 || dirOff > 1<<40 {
		return p.bootLabel, nil
	}
	dir := make([]byte, dirLen)
	n, err := r.ReadAt(dir, off+dirOff)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading FAT root directory at byte %d: %w", off+dirOff, err)
	}
	if l, ok := volumeEntry(dir[:n]); ok {
		return l, nil
	}
	return p.bootLabel, nil
}

// volumeEntry finds the volume-label entry (attribute 0x08, not a long
// name part, not deleted) in a directory.
func volumeEntry(dir []byte) (string, bool) {
	for i := 0; i+32 <= len(dir); i += 32 {
		e := dir[i : i+32]
		switch {
		case e[0] == 0x00:
			return "", false
		case e[0] == 0xe5 || e[11]&0x0f == 0x0f || e[11]&0x08 == 0:
			continue
		}
		return strings.TrimRight(cString(e[:11]), " "), true
	}
	return "", false
}
