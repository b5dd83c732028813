package efi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
)

// Device path node types and subtypes this package builds or reads
// (UEFI specification, chapter "Device Path Protocol").
const (
	TypeMedia          = 0x04
	SubTypeHardDrive   = 0x01
	SubTypeFilePath    = 0x04
	TypeEnd            = 0x7f
	SubTypeEndEntire   = 0xff
	SubTypeEndInstance = 0x01
)

// Hard Drive Media Device Path fields.
const (
	hardDriveLen = 42 // header 4 + number 4 + start 8 + size 8 + signature 16 + 2

	formatMBR = 0x01 // PartitionFormat: legacy MBR
	formatGPT = 0x02 // PartitionFormat: GUID partition table

	signatureMBR  = 0x01 // SignatureType: 32-bit MBR disk signature
	signatureGUID = 0x02 // SignatureType: GPT unique partition GUID
)

// Node is one device path node: its type, subtype and the bytes after the
// 4-byte header.
type Node struct {
	Type, SubType uint8
	Data          []byte
}

// DevicePath is a device path's nodes, without the End Entire node that
// closes it on disk.
type DevicePath []Node

// PartitionRef names a partition the way a Hard Drive Media Device Path
// does, so the firmware finds it on whichever disk carries it.
type PartitionRef struct {
	Number    int    // partition number, 1 for the first
	StartLBA  uint64 // first logical block of the partition
	SizeLBA   uint64 // length in logical blocks
	Signature [16]byte
	// MBR says the disk has an MBR table and Signature's first four bytes
	// hold its 32-bit disk signature (little-endian); otherwise the disk
	// has a GPT and Signature is the partition's unique GUID as stored.
	MBR bool
}

// check refuses a reference the firmware could not match to one partition.
func (p PartitionRef) check() error {
	switch {
	case p.Number < 1 || int64(p.Number) > 0xffffffff:
		return fmt.Errorf("partition number %d out of range", p.Number)
	case p.SizeLBA == 0:
		return errors.New("partition size is zero")
	case p.MBR && binary.LittleEndian.Uint32(p.Signature[:]) == 0:
		return errors.New("MBR disk signature is zero: the firmware could not tell the disk apart")
	case p.MBR && [12]byte(p.Signature[4:]) != [12]byte{}:
		return errors.New("MBR disk signature has bytes beyond its first four")
	case !p.MBR && p.Signature == [16]byte{}:
		return errors.New("GPT partition GUID is zero")
	}
	return nil
}

// HardDriveNode is the Hard Drive Media Device Path node for p.
func HardDriveNode(p PartitionRef) Node {
	d := make([]byte, hardDriveLen-4)
	le := binary.LittleEndian
	le.PutUint32(d[0:], uint32(p.Number))
	le.PutUint64(d[4:], p.StartLBA)
	le.PutUint64(d[12:], p.SizeLBA)
	copy(d[20:36], p.Signature[:])
	d[36], d[37] = formatGPT, signatureGUID
	if p.MBR {
		d[36], d[37] = formatMBR, signatureMBR
	}
	return Node{Type: TypeMedia, SubType: SubTypeHardDrive, Data: d}
}

// HardDrive decodes a Hard Drive Media Device Path node; ok is false for
// any other node or a signature type other than MBR or GUID.
func (n Node) HardDrive() (p PartitionRef, ok bool) {
	if n.Type != TypeMedia || n.SubType != SubTypeHardDrive || len(n.Data) != hardDriveLen-4 {
		return PartitionRef{}, false
	}
	d, le := n.Data, binary.LittleEndian
	p = PartitionRef{Number: int(le.Uint32(d[0:])), StartLBA: le.Uint64(d[4:]),
		SizeLBA: le.Uint64(d[12:]), Signature: [16]byte(d[20:36])}
	switch {
	case d[36] == formatMBR && d[37] == signatureMBR:
		p.MBR = true
	case d[36] == formatGPT && d[37] == signatureGUID:
	default:
		return PartitionRef{}, false
	}
	return p, true
}

// FilePathNode is the File Path Media Device Path node for path, a
// backslash-separated path on the partition's file system.
func FilePathNode(path string) Node {
	return Node{Type: TypeMedia, SubType: SubTypeFilePath, Data: utf16z(path)}
}

// FilePath decodes a File Path Media Device Path node.
func (n Node) FilePath() (string, bool) {
	if n.Type != TypeMedia || n.SubType != SubTypeFilePath {
		return "", false
	}
	s, rest, err := cutUTF16z(n.Data)
	if err != nil || len(rest) != 0 {
		return "", false
	}
	return s, true
}

// marshal appends the path's nodes and the End Entire node to b.
func (dp DevicePath) marshal(b []byte) ([]byte, error) {
	for _, n := range dp {
		if len(n.Data) > 0xffff-4 {
			return nil, fmt.Errorf("device path node %#x/%#x has %d bytes, too many",
				n.Type, n.SubType, len(n.Data))
		}
		if n.Type == TypeEnd && n.SubType == SubTypeEndEntire {
			return nil, errors.New("device path holds an End Entire node before its end")
		}
		b = append(b, n.Type, n.SubType)
		b = binary.LittleEndian.AppendUint16(b, uint16(4+len(n.Data)))
		b = append(b, n.Data...)
	}
	return append(b, TypeEnd, SubTypeEndEntire, 4, 0), nil
}

// parseDevicePath decodes a device path list that must end with exactly
// one End Entire node at its last four bytes.
func parseDevicePath(b []byte) (DevicePath, error) {
	var dp DevicePath
	for off := 0; ; {
		if len(b)-off < 4 {
			return nil, fmt.Errorf("device path: node header at byte %d cut short", off)
		}
		typ, sub := b[off], b[off+1]
		n := int(binary.LittleEndian.Uint16(b[off+2:]))
		if n < 4 || off+n > len(b) {
			return nil, fmt.Errorf("device path: node at byte %d has length %d of %d left",
				off, n, len(b)-off)
		}
		if typ == TypeEnd && sub == SubTypeEndEntire {
			if n != 4 || off+n != len(b) {
				return nil, fmt.Errorf("device path: end node at byte %d is not the last 4 bytes", off)
			}
			return dp, nil
		}
		dp = append(dp, Node{Type: typ, SubType: sub, Data: b[off+4 : off+n : off+n]})
		off += n
	}
}

// String renders the path roughly as the UEFI shell does, for logs.
func (dp DevicePath) String() string {
	parts := make([]string, 0, len(dp))
	for _, n := range dp {
		if p, ok := n.HardDrive(); ok {
			parts = append(parts, p.String())
			continue
		}
		if s, ok := n.FilePath(); ok {
			parts = append(parts, s)
			continue
		}
		parts = append(parts, fmt.Sprintf("Path(%d,%d,%x)", n.Type, n.SubType, n.Data))
	}
	return strings.Join(parts, "/")
}

// String renders p as the UEFI shell's HD() node text.
func (p PartitionRef) String() string {
	if p.MBR {
		return fmt.Sprintf("HD(%d,MBR,0x%08x,0x%x,0x%x)", p.Number,
			binary.LittleEndian.Uint32(p.Signature[:]), p.StartLBA, p.SizeLBA)
	}
	return fmt.Sprintf("HD(%d,GPT,%s,0x%x,0x%x)", p.Number, GUIDString(p.Signature),
		p.StartLBA, p.SizeLBA)
}

// GUIDString formats a GUID stored in EFI (mixed-endian) byte order.
func GUIDString(g [16]byte) string {
	le := binary.LittleEndian
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", le.Uint32(g[0:]), le.Uint16(g[4:]),
		le.Uint16(g[6:]), g[8:10], g[10:16])
}

// utf16z encodes s as UTF-16LE with a terminating NUL.
func utf16z(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 0, 2*len(u)+2)
	for _, c := range u {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return append(b, 0, 0)
}

// cutUTF16z decodes a NUL-terminated UTF-16LE string at the start of b and
// returns the bytes after the NUL.
func cutUTF16z(b []byte) (string, []byte, error) {
	var u []uint16
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			return string(utf16.Decode(u)), b[i+2:], nil
		}
		u = append(u, c)
	}
	return "", nil, errors.New("UTF-16 string has no terminating NUL")
}
