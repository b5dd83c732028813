package initswap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/takeover-dev/takeover/initramfs"
)

// charDev makes a character device node; mknod(2) on Linux.
type charDev func(path string, perm os.FileMode, major, minor uint32) error

// listing is an initramfs file read back, with what it unpacks to.
type listing struct {
	*initramfs.Listing
	file     *os.File
	size     int64
	unpacked int64 // bytes of the regular files the kernel would leave
}

// openListing reads the archives of the combined initramfs.
func openListing(path string) (*listing, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening combined initramfs: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("opening combined initramfs: %w", err)
	}
	l, err := initramfs.Inspect(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(l.Problems) > 0 {
		f.Close()
		return nil, fmt.Errorf("reading %s: %s", path, l.Problems[0])
	}
	if _, ok := l.Find("/init"); !ok {
		f.Close()
		return nil, fmt.Errorf("reading %s: no /init in the initramfs", path)
	}
	return &listing{Listing: l, file: f, size: st.Size(), unpacked: unpackedSize(l)}, nil
}

func (l *listing) Close() error { return l.file.Close() }

// unpackedSize adds the sizes of the regular files that win.
func unpackedSize(l *initramfs.Listing) int64 {
	last := map[string]int64{}
	for _, m := range l.Members {
		if m.Mode.IsRegular() {
			last[m.Name] = m.Size
		} else {
			delete(last, m.Name)
		}
	}
	var n int64
	for _, s := range last {
		n += s
	}
	return n
}

// unpack writes every member into dir as the kernel would unpack it:
// directories, regular files and character devices, a later member of a
// name replacing an earlier one. Other types (symbolic links above all,
// which could point a later member outside dir) are refused.
func (l *listing) unpack(dir string, mknod charDev) error {
	for _, m := range l.Members {
		if err := l.unpackMember(dir, m, mknod); err != nil {
			return fmt.Errorf("unpacking %s: %w", m.Name, err)
		}
	}
	return nil
}

func (l *listing) unpackMember(dir string, m initramfs.Member, mknod charDev) error {
	target := filepath.Join(dir, filepath.FromSlash(m.Name))
	if m.Name == "/" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	switch {
	case m.Mode.IsDir():
		if err := os.Mkdir(target, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		return os.Chmod(target, permBits(m.Mode))
	case m.Mode.IsRegular():
		return l.writeFile(target, m)
	case m.Mode&os.ModeCharDevice != 0:
		if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return mknod(target, m.Mode.Perm(), m.Rmajor, m.Rminor)
	}
	return fmt.Errorf("file type %v is not unpacked", m.Mode.Type())
}

// writeFile copies a member's body to target with the member's mode.
func (l *listing) writeFile(target string, m initramfs.Member) error {
	body, err := l.body(m)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n != m.Size {
		return fmt.Errorf("wrote %d of %d bytes: %w", n, m.Size, io.ErrUnexpectedEOF)
	}
	return os.Chmod(target, permBits(m.Mode))
}

// permBits are the permission, set-id and sticky bits of m.
func permBits(m os.FileMode) os.FileMode {
	return m.Perm() | m&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky)
}

// body reads a member directly for an uncompressed segment (the combined
// initramfs takeover writes), through Extract otherwise.
func (l *listing) body(m initramfs.Member) (io.Reader, error) {
	if l.Segments[m.Segment].Compression == initramfs.CompressionNone {
		return io.NewSectionReader(l.file, m.Offset, m.Size), nil
	}
	return initramfs.Extract(l.file, l.size, m.Name)
}

// readerAt returns the body of the file the kernel would leave at name,
// read into memory when its segment is compressed.
func (l *listing) readerAt(name string) (io.ReaderAt, error) {
	m, ok := l.Find(name)
	if !ok || !m.Mode.IsRegular() {
		return nil, fmt.Errorf("no regular file %s in the initramfs", name)
	}
	body, err := l.body(m)
	if err != nil {
		return nil, err
	}
	if ra, ok := body.(io.ReaderAt); ok {
		return ra, nil
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return bytes.NewReader(b), nil
}
