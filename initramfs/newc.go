package initramfs

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// The newc ("070701") format: a 110-byte ASCII header of thirteen 8-digit hex
// fields, the NUL-terminated name padded to 4 bytes, then the body padded to
// 4 bytes. An entry named TRAILER!!! ends an archive.
const (
	newcMagic    = "070701"
	newcCRCMagic = "070702" // same layout with a body checksum; read, never written
	headerLen    = 110
	trailerName  = "TRAILER!!!"
	maxFileSize  = 1<<32 - 1 // the size field is 32 bits
	maxNameLen   = 4096      // PATH_MAX, as the kernel's unpacker allows
	archiveAlign = 512       // GNU cpio's block: lets `cpio -i` stop at a trailer
)

// Mode type bits as cpio stores them (the Linux S_IF* values).
const (
	modeTypeMask = 0o170000
	modeDir      = 0o040000
	modeRegular  = 0o100000
	modeCharDev  = 0o020000
	modeBlockDev = 0o060000
	modeSymlink  = 0o120000
	modeFIFO     = 0o010000
	modeSocket   = 0o140000
)

// header is one newc header; every field is 32 bits on the wire.
type header struct {
	Ino, Mode, UID, GID, NLink, MTime, FileSize uint32
	Major, Minor, Rmajor, Rminor                uint32
	NameSize, Check                             uint32
}

// encodeHeader returns the header, the name, its NUL and the padding to a
// 4-byte boundary, ready to write in one call.
func encodeHeader(h header, name string) []byte {
	h.NameSize = uint32(len(name) + 1)
	fields := []uint32{h.Ino, h.Mode, h.UID, h.GID, h.NLink, h.MTime, h.FileSize,
		h.Major, h.Minor, h.Rmajor, h.Rminor, h.NameSize, h.Check}
	b := make([]byte, 0, pad4(headerLen+len(name)+1))
	b = append(b, newcMagic...)
	for _, f := range fields {
		b = fmt.Appendf(b, "%08X", f)
	}
	b = append(b, name...)
	b = append(b, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

var errBadMagic = errors.New("not a newc cpio header")

// decodeHeader parses the fixed 110-byte part of a header.
func decodeHeader(b []byte) (header, error) {
	if len(b) != headerLen {
		return header{}, fmt.Errorf("header of %d bytes, want %d", len(b), headerLen)
	}
	if m := string(b[:6]); m != newcMagic && m != newcCRCMagic {
		return header{}, fmt.Errorf("magic %q: %w", hex.EncodeToString(b[:6]), errBadMagic)
	}
	var f [13]uint32
	for i := range f {
		field := b[6+8*i : 14+8*i]
		v, err := strconv.ParseUint(string(field), 16, 32)
		if err != nil {
			return header{}, fmt.Errorf("header field %d %q is not hex", i, field)
		}
		f[i] = uint32(v)
	}
	return header{Ino: f[0], Mode: f[1], UID: f[2], GID: f[3], NLink: f[4], MTime: f[5],
		FileSize: f[6], Major: f[7], Minor: f[8], Rmajor: f[9], Rminor: f[10],
		NameSize: f[11], Check: f[12]}, nil
}

// pad4 rounds n up to a multiple of 4.
func pad4[T int | int64](n T) T { return (n + 3) &^ 3 }

// cpioMode converts an os.FileMode to the cpio mode word.
func cpioMode(m os.FileMode) (uint32, error) {
	perm := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		perm |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		perm |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		perm |= 0o1000
	}
	switch {
	case m.IsDir():
		return modeDir | perm, nil
	case m.IsRegular():
		return modeRegular | perm, nil
	case m&os.ModeCharDevice != 0 && m&os.ModeDevice != 0:
		return modeCharDev | perm, nil
	}
	return 0, fmt.Errorf("file type %v not supported (directory, regular file or char device)",
		m.Type())
}

// fileMode converts a cpio mode word to an os.FileMode.
func fileMode(m uint32) os.FileMode {
	mode := os.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= os.ModeSticky
	}
	switch m & modeTypeMask {
	case modeDir:
		mode |= os.ModeDir
	case modeCharDev:
		mode |= os.ModeDevice | os.ModeCharDevice
	case modeBlockDev:
		mode |= os.ModeDevice
	case modeSymlink:
		mode |= os.ModeSymlink
	case modeFIFO:
		mode |= os.ModeNamedPipe
	case modeSocket:
		mode |= os.ModeSocket
	case modeRegular:
	default:
		mode |= os.ModeIrregular
	}
	return mode
}
