package initswap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// magic names the marker format. It is also how stage1 recognises an /init
// that knows swap mode: the string is in every takeover binary with this
// package, and a PID 1 without it would run stage2 on the live disk.
const magic = "takeover-initswap-v1"

// marker is the file that tells the re-executed PID 1 it is in swap mode.
type marker struct {
	Magic   string `json:"magic"`
	NewRoot string `json:"newRoot"` // the tmpfs, as seen from the old root
	Init    string `json:"init"`    // the old init's executable, under the bind mount
}

// writeMarker writes the marker into the unpacked tree at dir.
func writeMarker(dir string, m marker) error {
	m.Magic = magic
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding swap marker: %w", err)
	}
	p := filepath.Join(dir, markerPath)
	if err := os.WriteFile(p, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing swap marker: %w", err)
	}
	return nil
}

// errNoMarker means the root holds no swap marker: not swap mode.
var errNoMarker = errors.New("no swap marker")

// readMarker reads the marker a PID 1 on the old root finds at root+dir.
func readMarker(root, dir string) (marker, error) {
	p := filepath.Join(root, dir, markerPath)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return marker{}, errNoMarker
	}
	if err != nil {
		return marker{}, fmt.Errorf("reading swap marker: %w", err)
	}
	var m marker
	if err := json.Unmarshal(b, &m); err != nil {
		return marker{}, fmt.Errorf("decoding swap marker %s: %w", p, err)
	}
	if m.Magic != magic {
		return marker{}, fmt.Errorf("swap marker %s: magic %q, want %q", p, m.Magic, magic)
	}
	if !filepath.IsAbs(m.NewRoot) || filepath.Clean(m.NewRoot) == "/" {
		return marker{}, fmt.Errorf("swap marker %s: new root %q is not a directory below /",
			p, m.NewRoot)
	}
	return m, nil
}

// knowsSwapMode reports whether the executable holds the marker magic.
func knowsSwapMode(r io.Reader) (bool, error) {
	const chunk = 1 << 20
	needle := []byte(magic)
	buf := make([]byte, chunk+len(needle))
	keep := 0
	for {
		n, err := io.ReadFull(r, buf[keep:])
		if bytes.Contains(buf[:keep+n], needle) {
			return true, nil
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		keep = copy(buf, buf[keep+n-len(needle)+1:keep+n])
	}
}
