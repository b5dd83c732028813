package disk

import (
	"encoding/binary"
	"fmt"
	"io"
)

// ReadWriterAt is a disk or an image file open for reading and writing.
type ReadWriterAt interface {
	io.ReaderAt
	io.WriterAt
}

// wipeHead is how much of the disk's start Wipe zeroes: the MBR, the
// primary GPT and the first bootloader stages.
const wipeHead = 1 << 20

// Wipe zeroes the first MiB and the last 33 sectors (where a backup GPT
// lives) of a disk of diskSize bytes, so that a half-written image cannot
// boot and no tool finds a stale partition table.
func Wipe(w io.WriterAt, diskSize int64, sectorSize int) error {
	if sectorSize <= 0 {
		return fmt.Errorf("wiping partition table: sector size %d", sectorSize)
	}
	head := min(int64(wipeHead), diskSize)
	if err := zero(w, 0, head); err != nil {
		return err
	}
	tail := max(diskSize-33*int64(sectorSize), head)
	return zero(w, tail, diskSize-tail)
}

func zero(w io.WriterAt, off, n int64) error {
	buf := make([]byte, min(n, wipeHead))
	for n > 0 {
		chunk := buf[:min(n, int64(len(buf)))]
		if _, err := w.WriteAt(chunk, off); err != nil {
			return fmt.Errorf("zeroing %d bytes at byte %d: %w", len(chunk), off, err)
		}
		off += int64(len(chunk))
		n -= int64(len(chunk))
	}
	return nil
}

// RelocateGPTBackup moves the backup GPT to the end of a disk of diskSize
// bytes after an image smaller than the disk was written to it, and points
// the primary header at it, as `sgdisk -e` does: backup entries and header
// first, the primary header last. The protective MBR entry is grown to the
// disk's end. A disk with an MBR table is left alone.
func RelocateGPTBackup(rw ReadWriterAt, diskSize int64, sectorSize int) error {
	mbr := make([]byte, 512)
	if _, err := rw.ReadAt(mbr, 0); err != nil {
		return fmt.Errorf("reading MBR: %w", err)
	}
	if mbr[510] != 0x55 || mbr[511] != 0xaa || !isProtective(mbr) {
		return nil
	}
	h, ss, err := readGPTHeader(rw, sectorSize)
	if err != nil {
		return err
	}
	entries, err := readGPTEntries(rw, h, ss)
	if err != nil {
		return err
	}
	if err := relocate(rw, h, entries, diskSize, int64(ss)); err != nil {
		return fmt.Errorf("relocating backup GPT: %w", err)
	}
	return growProtective(rw, mbr, diskSize/int64(ss))
}

func relocate(rw ReadWriterAt, h *gptHeader, entries []byte, diskSize, ss int64) error {
	entrySectors := uint64((h.entryBytes() + ss - 1) / ss)
	if uint64(diskSize/ss) < entrySectors+4 {
		return fmt.Errorf("disk of %d bytes too small for a GPT", diskSize)
	}
	last := uint64(diskSize/ss) - 1
	backupEntries := last - entrySectors
	lastUsable := backupEntries - 1
	if err := checkFits(entries, h, lastUsable); err != nil {
		return err
	}
	oldAlt := h.altLBA

	le := binary.LittleEndian
	primary := h.raw
	le.PutUint64(primary[32:], last)
	le.PutUint64(primary[48:], lastUsable)
	h.setCRCs(entries)

	backup := &gptHeader{raw: append([]byte(nil), primary...), size: h.size}
	le.PutUint64(backup.raw[24:], last)
	le.PutUint64(backup.raw[32:], 1)
	le.PutUint64(backup.raw[72:], backupEntries)
	backup.setCRCs(entries)

	if _, err := rw.WriteAt(entries, int64(backupEntries)*ss); err != nil {
		return fmt.Errorf("writing backup entries at LBA %d: %w", backupEntries, err)
	}
	if _, err := rw.WriteAt(backup.raw, int64(last)*ss); err != nil {
		return fmt.Errorf("writing backup header at LBA %d: %w", last, err)
	}
	if oldAlt != last && oldAlt > h.lastUsed && oldAlt < backupEntries {
		if err := zero(rw, int64(oldAlt)*ss, ss); err != nil {
			return fmt.Errorf("clearing old backup header: %w", err)
		}
	}
	if _, err := rw.WriteAt(primary, ss); err != nil {
		return fmt.Errorf("writing primary header: %w", err)
	}
	return nil
}

// checkFits refuses a disk too small for the partitions already there.
func checkFits(entries []byte, h *gptHeader, lastUsable uint64) error {
	if lastUsable < h.firstUsed {
		return fmt.Errorf("disk too small for a GPT: last usable LBA %d", lastUsable)
	}
	for i := 0; i < int(h.entries); i++ {
		e := entries[i*int(h.entrySize):]
		if guid(e[:16]) == zeroGUID {
			continue
		}
		if end := binary.LittleEndian.Uint64(e[40:]); end > lastUsable {
			return fmt.Errorf("partition %d ends at LBA %d, past the disk's last usable LBA %d",
				i+1, end, lastUsable)
		}
	}
	return nil
}

// growProtective makes a plain protective MBR (one 0xEE entry from LBA 1)
// cover the whole disk, capped at 2^32-1 sectors. Hybrid MBRs are left alone.
func growProtective(rw ReadWriterAt, mbr []byte, sectors int64) error {
	es := mbrEntries(mbr)
	used := 0
	for _, e := range es {
		if e.used() {
			used++
		}
	}
	if used != 1 || es[0].typ != 0xee || es[0].start != 1 {
		return nil
	}
	size := uint32(min(sectors-1, 0xffffffff))
	if size == es[0].size {
		return nil
	}
	binary.LittleEndian.PutUint32(mbr[446+12:], size)
	if _, err := rw.WriteAt(mbr, 0); err != nil {
		return fmt.Errorf("writing protective MBR: %w", err)
	}
	return nil
}
