// Package initramfs writes and reads back the newc cpio archives that make
// up takeover's initramfs: the portable payload archive (build-initrd) and
// the device archive (boot), concatenated into one file that the kernel
// unpacks in order.
//
// Archives are reproducible (mtime, uid and gid 0, inode numbers by sorted
// position) and streamed: file bodies are copied from disk, never held in
// memory, so an archive carrying a multi-GiB image costs a fixed buffer.
package initramfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// Entry is one directory, regular file or character device of an archive.
type Entry struct {
	Path   string      // absolute path in the archive, e.g. /takeover/config.json
	Source string      // host file to copy; "" for a directory, device or Data
	Mode   os.FileMode // permission bits plus type: os.ModeDir, 0 (regular) or char device
	Data   []byte      // contents of a small regular file given in memory instead of Source
	Rmajor uint32      // device number of a char device
	Rminor uint32
}

// ErrTooLarge is returned for a file that a newc archive cannot hold
// (4 GiB or more: the size field is 32 bits).
var ErrTooLarge = errors.New("file too large for a newc archive (4 GiB or more)")

// ErrChanged is returned when a source file changes size while it is copied.
var ErrChanged = errors.New("file changed size while archiving")

// record is a validated entry with its archive name and body size.
type record struct {
	Entry
	name string // Path without the leading slash, as stored
	size int64
}

// WriteArchive writes one newc archive holding entries, their missing parent
// directories (0755) and a trailer, padded to 512 bytes. Entries are sorted
// by path, so the same inputs give the same bytes. Every entry is checked,
// and every source file stat'ed, before the first byte is written; if an
// error happens later, w holds a partial archive that must be discarded.
func WriteArchive(w io.Writer, entries []Entry) error {
	records, err := prepare(entries)
	if err != nil {
		return err
	}

	cw := &countingWriter{w: w}
	for i, r := range records {
		if err := writeRecord(cw, uint32(i+1), r); err != nil {
			return fmt.Errorf("writing %s to archive: %w", r.Path, err)
		}
	}

	if err := writeTrailer(cw); err != nil {
		return fmt.Errorf("writing archive trailer: %w", err)
	}
	return nil
}

// prepare validates entries, adds missing parents and sorts the result.
func prepare(entries []Entry) ([]record, error) {
	byName := make(map[string]record, len(entries))
	for _, e := range entries {
		r, err := check(e)
		if err != nil {
			return nil, fmt.Errorf("checking archive entry %s: %w", e.Path, err)
		}
		if _, dup := byName[r.name]; dup {
			return nil, fmt.Errorf("checking archive entry %s: path given twice", e.Path)
		}
		byName[r.name] = r
	}

	if err := addParents(byName); err != nil {
		return nil, err
	}

	records := make([]record, 0, len(byName))
	for _, r := range byName {
		records = append(records, r)
	}
	sort.Slice(records, func(i, j int) bool { return records[i].name < records[j].name })
	return records, nil
}

// check validates one entry and learns its body size.
func check(e Entry) (record, error) {
	name, err := archiveName(e.Path)
	if err != nil {
		return record{}, err
	}
	if _, err := cpioMode(e.Mode); err != nil {
		return record{}, err
	}
	r := record{Entry: e, name: name}

	if !e.Mode.IsRegular() {
		if e.Source != "" || e.Data != nil {
			return record{}, fmt.Errorf("a %v entry has no contents", e.Mode.Type())
		}
		return r, nil
	}
	switch {
	case e.Source != "" && e.Data != nil:
		return record{}, errors.New("both Source and Data given")
	case e.Source != "":
		r.size, err = sourceSize(e.Source)
	default:
		r.size = int64(len(e.Data))
	}
	if err == nil && r.size > maxFileSize {
		err = fmt.Errorf("%d bytes: %w", r.size, ErrTooLarge)
	}
	return r, err
}

// sourceSize stats a host file that must be a regular file.
func sourceSize(name string) (int64, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return 0, fmt.Errorf("reading source file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("source %s is not a regular file (%v)", name, fi.Mode().Type())
	}
	return fi.Size(), nil
}

// archiveName turns an absolute, clean path into the stored name.
func archiveName(p string) (string, error) {
	if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
		return "", errors.New("path must be absolute and clean, and not /")
	}
	if len(p) > maxNameLen {
		return "", fmt.Errorf("path longer than %d bytes", maxNameLen)
	}
	return strings.TrimPrefix(p, "/"), nil
}

// addParents adds a 0755 directory for every missing parent.
func addParents(byName map[string]record) error {
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	for _, n := range names {
		for dir := path.Dir(n); dir != "."; dir = path.Dir(dir) {
			if r, ok := byName[dir]; ok {
				if !r.Mode.IsDir() {
					return fmt.Errorf("checking archive entry /%s: parent /%s is not a directory",
						n, dir)
				}
				continue
			}
			byName[dir] = record{Entry: Entry{Path: "/" + dir, Mode: os.ModeDir | 0o755}, name: dir}
		}
	}
	return nil
}

// writeRecord writes one header and body.
func writeRecord(cw *countingWriter, ino uint32, r record) error {
	mode, _ := cpioMode(r.Mode) // checked in prepare
	h := header{Ino: ino, Mode: mode, NLink: 1, FileSize: uint32(r.size),
		Rmajor: r.Rmajor, Rminor: r.Rminor}
	if r.Mode.IsDir() {
		h.NLink = 2
	}
	if _, err := cw.Write(encodeHeader(h, r.name)); err != nil {
		return err
	}

	switch {
	case r.Source != "":
		if err := copySource(cw, r.Source, r.size); err != nil {
			return err
		}
	case len(r.Data) > 0:
		if _, err := cw.Write(r.Data); err != nil {
			return err
		}
	}
	return cw.padTo(4)
}

// copySource copies exactly size bytes of a host file, refusing a file whose
// size is not size before or after the copy.
func copySource(w io.Writer, name string, size int64) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("opening source file: %w", err)
	}
	defer f.Close()

	if err := checkSize(f, size); err != nil {
		return err
	}
	n, err := io.Copy(w, io.LimitReader(f, size))
	if err != nil {
		return fmt.Errorf("copying %s: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("copying %s: got %d of %d bytes: %w", name, n, size, ErrChanged)
	}
	return checkSize(f, size)
}

// checkSize compares an open file's size with the size planned for it.
func checkSize(f *os.File, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("reading source file: %w", err)
	}
	if fi.Size() != size {
		return fmt.Errorf("%s: %d bytes, planned %d: %w", f.Name(), fi.Size(), size, ErrChanged)
	}
	return nil
}

// writeTrailer ends the archive and pads it to archiveAlign bytes.
func writeTrailer(cw *countingWriter) error {
	if _, err := cw.Write(encodeHeader(header{NLink: 1}, trailerName)); err != nil {
		return err
	}
	return cw.padTo(archiveAlign)
}

// countingWriter tracks the archive offset for padding. It passes ReadFrom
// through so that a file-to-file copy stays in the kernel (copy_file_range).
type countingWriter struct {
	w   io.Writer
	pos int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.pos += int64(n)
	return n, err
}

// ReadFrom copies r to the underlying writer with its own ReadFrom where it
// has one, else with a 1 MiB buffer.
func (c *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	var n int64
	var err error
	if rf, ok := c.w.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.CopyBuffer(writerOnly{c.w}, r, make([]byte, 1<<20))
	}
	c.pos += n
	return n, err
}

// writerOnly hides every method but Write, so io.CopyBuffer uses its buffer.
type writerOnly struct{ io.Writer }

func (c *countingWriter) padTo(align int64) error {
	var zeros [archiveAlign]byte
	n := (align - c.pos%align) % align
	_, err := c.Write(zeros[:n])
	return err
}
