package disk

import (
	"encoding/binary"
	"fmt"
	"io"
)

// mbrEntry is one of the four 16-byte slots of an MBR or EBR.
type mbrEntry struct {
	typ   byte
	start uint32 // LBA, relative to a base that depends on the slot
	size  uint32 // sectors
}

func mbrEntries(sector []byte) [4]mbrEntry {
	var es [4]mbrEntry
	for i := range es {
		b := sector[446+16*i:]
		es[i] = mbrEntry{typ: b[4], start: binary.LittleEndian.Uint32(b[8:]),
			size: binary.LittleEndian.Uint32(b[12:])}
	}
	return es
}

func (e mbrEntry) used() bool     { return e.typ != 0 && e.size != 0 }
func (e mbrEntry) extended() bool { return e.typ == 0x05 || e.typ == 0x0f || e.typ == 0x85 }

// isProtective reports whether an MBR holds a GPT protective (0xEE) entry.
func isProtective(mbr []byte) bool {
	for _, e := range mbrEntries(mbr) {
		if e.typ == 0xee {
			return true
		}
	}
	return false
}

// readMBR reads the primary partitions and walks the EBR chain of the
// extended partition, numbering logical partitions from 5 as Linux does.
// EBRs and file system probes are interleaved by offset so reads never go
// backwards.
func readMBR(r io.ReaderAt, mbr []byte, size int64, sectorSize int) (*Table, error) {
	if sectorSize == 0 {
		sectorSize = 512
	}
	ss := int64(sectorSize)
	t := &Table{Kind: "mbr", SectorSize: sectorSize}
	ext := int64(-1) // byte offset of the extended partition, -1 when none
	for i, e := range mbrEntries(mbr) {
		if !e.used() {
			continue
		}
		p := Partition{Number: i + 1, Start: int64(e.start) * ss, Size: int64(e.size) * ss,
			Type: fmt.Sprintf("0x%02x", e.typ)}
		if e.extended() && ext < 0 {
			ext = p.Start
		}
		t.Partitions = append(t.Partitions, p)
	}
	if err := t.checkBounds(size); err != nil {
		return nil, err
	}
	w := walker{r: r, t: t, ss: ss, ext: ext, nextEBR: ext, size: size}
	if err := w.run(); err != nil {
		return nil, err
	}
	return t, nil
}

// walker visits EBRs and partitions to probe in increasing byte offset.
type walker struct {
	r       io.ReaderAt
	t       *Table
	ss      int64
	ext     int64 // extended partition's byte offset
	nextEBR int64 // next EBR's byte offset, -1 when the chain is done
	size    int64
	probed  map[int]bool // by index into t.Partitions
	count   int          // EBRs read
}

func (w *walker) run() error {
	w.probed = map[int]bool{}
	for {
		i := w.nextProbe()
		switch {
		case w.nextEBR >= 0 && (i < 0 || w.nextEBR <= w.t.Partitions[i].Start):
			if err := w.readEBR(); err != nil {
				return err
			}
		case i >= 0:
			if err := w.probe(i); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// nextProbe returns the index of the unprobed partition with the lowest
// start, or -1.
func (w *walker) nextProbe() int {
	best := -1
	for i, p := range w.t.Partitions {
		if w.probed[i] {
			continue
		}
		if best < 0 || p.Start < w.t.Partitions[best].Start {
			best = i
		}
	}
	return best
}

func (w *walker) probe(i int) error {
	w.probed[i] = true
	p := &w.t.Partitions[i]
	if p.Extended() {
		return nil
	}
	fs, label, err := Probe(io.NewSectionReader(w.r, p.Start, p.Size), 0)
	if err != nil {
		return fmt.Errorf("probing partition %d at byte %d: %w", p.Number, p.Start, err)
	}
	p.FSType, p.Label = fs, label
	return nil
}

// readEBR reads one EBR: its first used non-extended slot is a logical
// partition (start relative to this EBR), its first extended slot links to
// the next EBR (start relative to the extended partition).
func (w *walker) readEBR() error {
	off := w.nextEBR
	w.nextEBR = -1
	if w.count++; w.count > maxLogical {
		return fmt.Errorf("reading EBR chain: more than %d logical partitions", maxLogical)
	}
	sector := make([]byte, 512)
	if _, err := w.r.ReadAt(sector, off); err != nil {
		return fmt.Errorf("reading EBR at byte %d: %w", off, err)
	}
	if sector[510] != 0x55 || sector[511] != 0xaa {
		return fmt.Errorf("reading EBR at byte %d: no signature", off)
	}
	data, link := false, false
	for _, e := range mbrEntries(sector) {
		switch {
		case !e.used():
		case e.extended() && !link:
			link = true
			w.nextEBR = w.ext + int64(e.start)*w.ss
			if w.nextEBR <= off {
				return fmt.Errorf("reading EBR at byte %d: next EBR at byte %d does not follow it",
					off, w.nextEBR)
			}
		case !e.extended() && !data:
			data = true
			w.addLogical(off, e)
		}
	}
	return w.t.checkBounds(w.size)
}

func (w *walker) addLogical(ebr int64, e mbrEntry) {
	n := 5
	for _, p := range w.t.Partitions {
		if p.Number >= n {
			n = p.Number + 1
		}
	}
	w.t.Partitions = append(w.t.Partitions, Partition{Number: n,
		Start: ebr + int64(e.start)*w.ss, Size: int64(e.size) * w.ss,
		Type: fmt.Sprintf("0x%02x", e.typ)})
}
