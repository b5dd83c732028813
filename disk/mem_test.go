package disk

import (
	"encoding/binary"
	"hash/crc32"
	"io"
	"unicode/utf16"
)

// mem is an in-memory disk.
type mem []byte

func (m mem) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(m)) {
		return 0, io.EOF
	}
	n := copy(p, m[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m mem) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(m)) {
		return 0, io.ErrShortWrite
	}
	return copy(m[off:], p), nil
}

func putEntry(sector []byte, slot int, typ byte, start, size uint32) {
	e := sector[446+16*slot:]
	e[4] = typ
	binary.LittleEndian.PutUint32(e[8:], start)
	binary.LittleEndian.PutUint32(e[12:], size)
	sector[510], sector[511] = 0x55, 0xaa
}

// fakeExt writes an ext superblock with the given features at off.
func fakeExt(m mem, off int64, label string, compat, incompat uint32) {
	sb := m[off+1024:]
	binary.LittleEndian.PutUint16(sb[56:], extMagic)
	binary.LittleEndian.PutUint32(sb[92:], compat)
	binary.LittleEndian.PutUint32(sb[96:], incompat)
	copy(sb[120:136], label)
}

// fakeFAT16 writes a FAT16 boot sector and a root directory whose
// volume-label entry is dirLabel (none when empty).
func fakeFAT16(m mem, off int64, bootLabel, dirLabel string) {
	b := m[off:]
	b[0], b[1], b[2] = 0xeb, 0x3c, 0x90
	binary.LittleEndian.PutUint16(b[11:], 512)
	b[13] = 4
	binary.LittleEndian.PutUint16(b[14:], 4) // reserved
	b[16] = 2
	binary.LittleEndian.PutUint16(b[17:], 512) // root entries
	binary.LittleEndian.PutUint16(b[22:], 8)   // sectors per FAT
	b[38] = 0x29
	copy(b[43:54], pad11(bootLabel))
	b[510], b[511] = 0x55, 0xaa
	if dirLabel != "" {
		dir := b[(4+2*8)*512:]
		copy(dir[0:11], pad11("DELETED"))
		dir[0] = 0xe5
		dir[11] = 0x08
		copy(dir[32:43], pad11(dirLabel))
		dir[32+11] = 0x08
	}
}

func pad11(s string) []byte {
	b := []byte("           ")
	copy(b, s)
	return b
}

// fakeMBRDisk is 8 MiB: p1 FAT16 at 1 MiB, p2 extended from 3 MiB holding
// logical p5 (ext4 at 4 MiB) and p6 (ext3 at 6 MiB, EBR at 5 MiB).
func fakeMBRDisk() mem {
	m := make(mem, 8<<20)
	putEntry(m, 0, 0x0e, 2048, 4096)
	putEntry(m, 1, 0x0f, 6144, 10240)
	ebr1 := m[3<<20:]
	putEntry(ebr1, 0, 0x83, 2048, 2048) // 4 MiB, relative to this EBR
	putEntry(ebr1, 1, 0x05, 4096, 6144) // next EBR at 5 MiB, relative to the extended
	ebr2 := m[5<<20:]
	putEntry(ebr2, 0, 0x83, 2048, 2048) // 6 MiB
	fakeFAT16(m, 1<<20, "BOOTSECT", "resin-boot")
	fakeExt(m, 4<<20, "resin-state", 0, extIncompatExtents)
	fakeExt(m, 6<<20, "resin-data", extCompatJournal, 0)
	return m
}

type gptPart struct {
	first, last uint64
	typ         [16]byte
	name        string
}

// fakeGPTDisk is 4 MiB with 512-byte sectors and the given partitions.
func fakeGPTDisk(parts []gptPart) mem {
	m := make(mem, 4<<20)
	putEntry(m, 0, 0xee, 1, uint32(len(m)/512-1))
	entries := make([]byte, 128*128)
	for i, p := range parts {
		e := entries[128*i:]
		copy(e[:16], p.typ[:])
		binary.LittleEndian.PutUint64(e[32:], p.first)
		binary.LittleEndian.PutUint64(e[40:], p.last)
		for j, c := range utf16.Encode([]rune(p.name)) {
			binary.LittleEndian.PutUint16(e[56+2*j:], c)
		}
	}
	last := uint64(len(m)/512 - 1)
	h := m[512:1024]
	copy(h, gptSignature)
	le := binary.LittleEndian
	le.PutUint32(h[8:], 0x00010000)
	le.PutUint32(h[12:], 92)
	le.PutUint64(h[24:], 1)
	le.PutUint64(h[32:], last)
	le.PutUint64(h[40:], 34)
	le.PutUint64(h[48:], last-33)
	le.PutUint64(h[72:], 2)
	le.PutUint32(h[80:], 128)
	le.PutUint32(h[84:], 128)
	le.PutUint32(h[88:], crc32.ChecksumIEEE(entries))
	le.PutUint32(h[16:], headerCRC(h[:92]))
	copy(m[1024:], entries)
	return m
}

var linuxGUID = [16]byte{0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47,
	0x8e, 0x79, 0x3d, 0x69, 0xed, 0x7d, 0x8e, 0x4c}
