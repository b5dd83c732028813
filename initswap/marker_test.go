package initswap

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestMarkerRoundTrip(t *testing.T) {
	root := t.TempDir()
	newRoot := filepath.Join(root, Dir)
	if err := os.MkdirAll(filepath.Join(newRoot, "takeover"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := readMarker(root, Dir); !errors.Is(err, errNoMarker) {
		t.Fatalf("readMarker(no marker) = %v, want errNoMarker", err)
	}
	want := marker{Magic: magic, NewRoot: Dir, Init: "/usr/lib/systemd/systemd"}
	if err := writeMarker(newRoot, marker{NewRoot: Dir, Init: want.Init}); err != nil {
		t.Fatal(err)
	}
	got, err := readMarker(root, Dir)
	if err != nil || got != want {
		t.Fatalf("readMarker() = %+v, %v, want %+v", got, err, want)
	}
}

func TestReadMarkerRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, data string
	}{
		{name: "not JSON", data: "swap"},
		{name: "wrong magic", data: `{"magic":"takeover-initswap-v0","newRoot":"/run/x"}`},
		{name: "root as new root", data: `{"magic":"` + magic + `","newRoot":"/"}`},
		{name: "relative new root", data: `{"magic":"` + magic + `","newRoot":"run/x"}`},
	} {
		root := t.TempDir()
		p := filepath.Join(root, Dir, markerPath)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(tc.data), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := readMarker(root, Dir)
		if err == nil || errors.Is(err, errNoMarker) {
			t.Errorf("%s: readMarker() = %v, want a refusal", tc.name, err)
		}
	}
}

func TestKnowsSwapMode(t *testing.T) {
	const mib = 1 << 20
	at := func(size, off int) []byte {
		b := bytes.Repeat([]byte{0x90}, size)
		copy(b[off:], magic)
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
		want bool
	}{
		{name: "small, present", data: at(100, 10), want: true},
		{name: "across the chunk boundary", data: at(2*mib, mib-5), want: true},
		{name: "at the very end", data: at(3*mib, 3*mib-len(magic)), want: true},
		{name: "absent", data: bytes.Repeat([]byte{0x90}, 2*mib+7), want: false},
		{name: "cut short", data: []byte(magic[:len(magic)-1]), want: false},
	} {
		got, err := knowsSwapMode(bytes.NewReader(tc.data))
		if err != nil || got != tc.want {
			t.Errorf("%s: knowsSwapMode() = %v, %v, want %v", tc.name, got, err, tc.want)
		}
	}
	// Every position across the first two read boundaries (1 MiB plus
	// the needle, then 1 MiB plus one byte further on).
	first := mib + len(magic)
	for _, b := range []int{first, first + mib + 1} {
		for off := b - len(magic) - 1; off <= b+1; off++ {
			if got, err := knowsSwapMode(bytes.NewReader(at(3*mib, off))); err != nil || !got {
				t.Errorf("knowsSwapMode(magic at %d) = %v, %v, want true", off, got, err)
			}
		}
	}
}
