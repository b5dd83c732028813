package disk

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// The identifiers UEFI boot entries name a partition by: the MBR disk
// signature and the GPT unique partition GUID, both as stored on disk.
func TestReadTableIdentifiers(t *testing.T) {
	m := fakeMBRDisk()
	binary.LittleEndian.PutUint32(m[440:], 0xdeadbeef)
	tab, err := ReadTable(m, int64(len(m)), 0)
	if err != nil {
		t.Fatalf("ReadTable(mbr) error: %v", err)
	}
	if tab.DiskSignature != 0xdeadbeef || tab.DiskGUID != ([16]byte{}) {
		t.Errorf("ReadTable(mbr) signature %#x, disk GUID %x, want 0xdeadbeef and zero",
			tab.DiskSignature, tab.DiskGUID)
	}

	g := fakeGPTDisk([]gptPart{{first: 2048, last: 4095, typ: linuxGUID, name: "resin-boot"}})
	var diskGUID, partGUID [16]byte
	for i := range 16 {
		diskGUID[i], partGUID[i] = byte(0x10+i), byte(0xa0+i)
	}
	copy(g[1024+16:], partGUID[:])
	h := g[512:1024]
	copy(h[56:], diskGUID[:])
	binary.LittleEndian.PutUint32(h[88:], crc32.ChecksumIEEE(g[1024:1024+128*128]))
	binary.LittleEndian.PutUint32(h[16:], headerCRC(h[:92]))
	binary.LittleEndian.PutUint32(g[440:], 0x01020304)
	tab, err = ReadTable(g, int64(len(g)), 512)
	if err != nil {
		t.Fatalf("ReadTable(gpt) error: %v", err)
	}
	if tab.DiskGUID != diskGUID || len(tab.Partitions) != 1 ||
		tab.Partitions[0].UniqueGUID != partGUID || tab.DiskSignature != 0x01020304 {
		t.Errorf("ReadTable(gpt) = disk GUID %x, signature %#x, partitions %+v, "+
			"want disk GUID %x, signature 0x01020304, one partition with GUID %x",
			tab.DiskGUID, tab.DiskSignature, tab.Partitions, diskGUID, partGUID)
	}
}
