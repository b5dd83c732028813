package initramfs

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"github.com/takeover-dev/takeover/plan"
)

// maxPlanSize bounds how much of a plan file Inspect reads.
const maxPlanSize = 1 << 20

// Listing is what an initrd file holds, as the kernel would unpack it.
type Listing struct {
	Segments []Segment
	Members  []Member      // in archive order; a later member of the same name wins
	Payload  *plan.Payload // the last payload plan found, nil if none
	Device   *plan.Device  // the last device plan found, nil if none
	Problems []string      // plans that do not decode or do not match the contents
}

// ErrNotFound is returned by Extract for a path no archive holds.
var ErrNotFound = errors.New("no such file in the initramfs")

// Inspect reads every archive of an initrd file: uncompressed newc archives
// and gzip or zstd compressed ones, separated by zero padding.
func Inspect(r io.ReaderAt, size int64) (*Listing, error) {
	l := &Listing{}
	segs, err := walk(r, size, l.add)
	l.Segments = segs
	if err != nil {
		return l, fmt.Errorf("inspecting initramfs: %w", err)
	}
	l.checkPlans()
	return l, nil
}

// add records a member and decodes it when it is a plan.
func (l *Listing) add(m Member, body io.Reader) error {
	l.Members = append(l.Members, m)
	if !m.Mode.IsRegular() || (m.Name != plan.PayloadPlanPath && m.Name != plan.DevicePlanPath) {
		return nil
	}
	if m.Size > maxPlanSize {
		l.problem("%s: %d bytes, more than a plan can be", m.Name, m.Size)
		return nil
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("reading %s: %w", m.Name, noEOF(err))
	}

	if m.Name == plan.PayloadPlanPath {
		l.Payload = nil
		var p plan.Payload
		if err := plan.Decode(bytes.NewReader(b), &p); err != nil {
			l.problem("%s: %v", m.Name, err)
			return nil
		}
		l.Payload = &p
		return nil
	}
	l.Device = nil
	var d plan.Device
	if err := plan.Decode(bytes.NewReader(b), &d); err != nil {
		l.problem("%s: %v", m.Name, err)
		return nil
	}
	l.Device = &d
	return nil
}

func (l *Listing) problem(format string, args ...any) {
	l.Problems = append(l.Problems, fmt.Sprintf(format, args...))
}

// Find returns the member the kernel would leave at name: the last one.
func (l *Listing) Find(name string) (Member, bool) {
	for i := len(l.Members) - 1; i >= 0; i-- {
		if l.Members[i].Name == name {
			return l.Members[i], true
		}
	}
	return Member{}, false
}

// checkPlans compares the plans with what the archives hold.
func (l *Listing) checkPlans() {
	if p := l.Payload; p != nil {
		if err := p.Validate(); err != nil {
			l.problem("%s: %v", plan.PayloadPlanPath, err)
		}
		l.checkFile(p.Image.Path, p.Image.Size, "image")
		for _, f := range p.Files {
			l.checkFile(f.Source, -1, "file for "+f.Partition)
		}
	}
	if d := l.Device; d != nil {
		if err := d.Validate(); err != nil {
			l.problem("%s: %v", plan.DevicePlanPath, err)
		}
		for _, m := range d.Modules {
			l.checkFile(m, -1, "module")
		}
	}
}

// checkFile notes a planned file that is missing or of the wrong size
// (size -1: any size).
func (l *Listing) checkFile(name string, size int64, what string) {
	m, ok := l.Find(name)
	switch {
	case !ok:
		l.problem("%s %s is not in the initramfs", what, name)
	case !m.Mode.IsRegular():
		l.problem("%s %s is not a regular file", what, name)
	case size >= 0 && m.Size != size:
		l.problem("%s %s has %d bytes, the plan says %d", what, name, m.Size, size)
	}
}

// Extract returns the contents of the regular file the kernel would leave
// at name (the last member of that name).
func Extract(r io.ReaderAt, size int64, name string) (io.Reader, error) {
	l := &Listing{}
	segs, err := walk(r, size, func(m Member, _ io.Reader) error {
		l.Members = append(l.Members, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("extracting %s: %w", name, err)
	}
	m, ok := l.Find(name)
	if !ok {
		return nil, fmt.Errorf("extracting %s: %w", name, ErrNotFound)
	}
	if !m.Mode.IsRegular() {
		return nil, fmt.Errorf("extracting %s: not a regular file (%v)", name, m.Mode.Type())
	}
	return openBody(r, size, segs[m.Segment], m)
}

// openBody returns a reader of a member's body.
func openBody(r io.ReaderAt, size int64, seg Segment, m Member) (io.Reader, error) {
	var zr io.Reader
	switch seg.Compression {
	case CompressionNone:
		return io.NewSectionReader(r, m.Offset, m.Size), nil
	case CompressionGzip:
		gz, err := gzip.NewReader(newByteReaderAt(r, seg.Offset, size))
		if err != nil {
			return nil, fmt.Errorf("opening gzip stream: %w", err)
		}
		gz.Multistream(false)
		zr = gz
	case CompressionZstd:
		zs, err := zstdReader(io.NewSectionReader(r, seg.Offset, size-seg.Offset))
		if err != nil {
			return nil, err
		}
		zr = zs
	}
	if _, err := io.CopyN(io.Discard, zr, m.Offset); err != nil {
		return nil, fmt.Errorf("seeking to %s in the %s stream: %w", m.Name, seg.Compression,
			noEOF(err))
	}
	return &exactReader{r: io.LimitReader(zr, m.Size), left: m.Size}, nil
}

// exactReader reports io.ErrUnexpectedEOF if the body ends early.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
