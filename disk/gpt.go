package disk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"unicode/utf16"
)

// gptHeader is the part of a GPT header this package uses. raw keeps the
// whole header sector so rewriting it preserves every other field.
type gptHeader struct {
	raw        []byte
	size       uint32 // header size in bytes
	myLBA      uint64
	altLBA     uint64
	firstUsed  uint64
	lastUsed   uint64
	entriesLBA uint64
	entries    uint32 // number of entries
	entrySize  uint32
	entriesCRC uint32
}

const (
	gptSignature  = "EFI PART"
	maxEntryBytes = 1 << 20 // refuse entry arrays larger than this
)

// parseGPTHeader checks a header sector's signature, size and CRC.
func parseGPTHeader(sector []byte) (*gptHeader, error) {
	if string(sector[:8]) != gptSignature {
		return nil, errors.New("no GPT signature")
	}
	le := binary.LittleEndian
	h := &gptHeader{raw: sector, size: le.Uint32(sector[12:]), myLBA: le.Uint64(sector[24:]),
		altLBA: le.Uint64(sector[32:]), firstUsed: le.Uint64(sector[40:]),
		lastUsed: le.Uint64(sector[48:]), entriesLBA: le.Uint64(sector[72:]),
		entries: le.Uint32(sector[80:]), entrySize: le.Uint32(sector[84:]),
		entriesCRC: le.Uint32(sector[88:])}
	if h.size < 92 || int(h.size) > len(sector) {
		return nil, fmt.Errorf("GPT header size %d out of range", h.size)
	}
	if got, want := headerCRC(sector[:h.size]), le.Uint32(sector[16:]); got != want {
		return nil, fmt.Errorf("GPT header CRC is %#08x, header says %#08x", got, want)
	}
	if h.entrySize < 128 || h.entrySize%8 != 0 || h.entries == 0 {
		return nil, fmt.Errorf("GPT header has %d entries of %d bytes", h.entries, h.entrySize)
	}
	if uint64(h.entries)*uint64(h.entrySize) > maxEntryBytes {
		return nil, fmt.Errorf("GPT entry array of %d x %d bytes is too large", h.entries, h.entrySize)
	}
	return h, nil
}

// headerCRC is the CRC32 of a header with its CRC field taken as zero.
func headerCRC(hdr []byte) uint32 {
	c := bytes.Clone(hdr)
	binary.LittleEndian.PutUint32(c[16:], 0)
	return crc32.ChecksumIEEE(c)
}

// setCRCs stores the entries CRC, then the header CRC, in h.raw.
func (h *gptHeader) setCRCs(entries []byte) {
	le := binary.LittleEndian
	le.PutUint32(h.raw[88:], crc32.ChecksumIEEE(entries))
	le.PutUint32(h.raw[16:], headerCRC(h.raw[:h.size]))
}

func (h *gptHeader) entryBytes() int64 { return int64(h.entries) * int64(h.entrySize) }

// readGPTHeader finds the primary header at LBA 1, trying 512 and then
// 4096-byte sectors when sectorSize is 0.
func readGPTHeader(r io.ReaderAt, sectorSize int) (*gptHeader, int, error) {
	sizes := []int{sectorSize}
	if sectorSize == 0 {
		sizes = []int{512, 4096}
	}
	var errs []error
	for _, ss := range sizes {
		sector := make([]byte, ss)
		if _, err := r.ReadAt(sector, int64(ss)); err != nil {
			return nil, 0, fmt.Errorf("reading GPT header at byte %d: %w", ss, err)
		}
		h, err := parseGPTHeader(sector)
		if err == nil && h.myLBA != 1 {
			err = fmt.Errorf("GPT header at LBA 1 says it is at LBA %d", h.myLBA)
		}
		if err == nil {
			return h, ss, nil
		}
		errs = append(errs, fmt.Errorf("with %d-byte sectors: %w", ss, err))
	}
	return nil, 0, fmt.Errorf("reading primary GPT header: %w", errors.Join(errs...))
}

// readGPTEntries reads and checks the entry array a header points to.
func readGPTEntries(r io.ReaderAt, h *gptHeader, ss int) ([]byte, error) {
	if h.entriesLBA == h.myLBA || h.entriesLBA >= 1<<62/uint64(ss) {
		return nil, fmt.Errorf("GPT entries at LBA %d: out of place", h.entriesLBA)
	}
	off := int64(h.entriesLBA) * int64(ss)
	buf := make([]byte, h.entryBytes())
	if _, err := r.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("reading GPT entries at byte %d: %w", off, err)
	}
	if got := crc32.ChecksumIEEE(buf); got != h.entriesCRC {
		return nil, fmt.Errorf("GPT entries CRC is %#08x, header says %#08x", got, h.entriesCRC)
	}
	return buf, nil
}

// readGPT reads the primary GPT. The backup is not consulted: reading it
// would go backwards on a stream. TODO: fall back to the backup header at
// the disk's end when the primary is damaged and size is known.
func readGPT(r io.ReaderAt, size int64, sectorSize int) (*Table, error) {
	h, ss, err := readGPTHeader(r, sectorSize)
	if err != nil {
		return nil, err
	}
	if h.entriesLBA < 2 {
		return nil, fmt.Errorf("primary GPT entries at LBA %d, want 2 or more", h.entriesLBA)
	}
	entries, err := readGPTEntries(r, h, ss)
	if err != nil {
		return nil, err
	}
	t := &Table{Kind: "gpt", SectorSize: ss}
	copy(t.DiskGUID[:], h.raw[56:72])
	for i := 0; i < int(h.entries); i++ {
		e := entries[i*int(h.entrySize):]
		p, ok, err := gptPartition(e, i+1, ss)
		if err != nil {
			return nil, err
		}
		if ok {
			t.Partitions = append(t.Partitions, p)
		}
	}
	if err := t.checkBounds(size); err != nil {
		return nil, err
	}
	w := walker{r: r, t: t, ss: int64(ss), nextEBR: -1, size: size}
	if err := w.run(); err != nil {
		return nil, err
	}
	return t, nil
}

// gptPartition decodes entry number n; ok is false for an unused entry.
func gptPartition(e []byte, n, ss int) (Partition, bool, error) {
	typ := guid(e[0:16])
	if typ == zeroGUID {
		return Partition{}, false, nil
	}
	le := binary.LittleEndian
	first, last := le.Uint64(e[32:]), le.Uint64(e[40:])
	if last < first || last >= 1<<62/uint64(ss) {
		return Partition{}, false, fmt.Errorf("GPT entry %d spans LBA %d to %d", n, first, last)
	}
	p := Partition{Number: n, Start: int64(first) * int64(ss),
		Size: int64(last-first+1) * int64(ss), Type: typ, Name: utf16Name(e[56:128])}
	copy(p.UniqueGUID[:], e[16:32])
	return p, true, nil
}

const zeroGUID = "00000000-0000-0000-0000-000000000000"

// guid formats a mixed-endian GUID in lower case.
func guid(b []byte) string {
	le := binary.LittleEndian
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", le.Uint32(b[0:]), le.Uint16(b[4:]),
		le.Uint16(b[6:]), b[8:10], b[10:16])
}

func utf16Name(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return strings.ToValidUTF8(string(utf16.Decode(u)), "\uFFFD")
}
