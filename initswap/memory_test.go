package initswap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const meminfo1G = `MemTotal:        1000000 kB
MemFree:          500000 kB
MemAvailable:     600000 kB
Buffers:           10000 kB
SwapTotal:        200000 kB
SwapFree:         150000 kB
`

func TestReadMemInfo(t *testing.T) {
	proc := t.TempDir()
	if err := os.WriteFile(filepath.Join(proc, "meminfo"), []byte(meminfo1G), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readMemInfo(proc)
	if err != nil {
		t.Fatal(err)
	}
	want := memInfo{Total: 1000000 << 10, Available: 600000 << 10, SwapTotal: 200000 << 10,
		SwapFree: 150000 << 10}
	if got != want {
		t.Errorf("readMemInfo() = %+v, want %+v", got, want)
	}

	if err := os.WriteFile(filepath.Join(proc, "meminfo"), []byte("MemTotal: 5 kB\n"),
		0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readMemInfo(proc); err == nil {
		t.Errorf("readMemInfo(no MemAvailable) = nil error, want one")
	}
}

func TestCheckMemory(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name     string
		mi       memInfo
		unpacked int64
		wantErr  []string // parts of the message; nil for no error
	}{
		{name: "fits", mi: memInfo{Total: 1024 * mib, Available: 700 * mib},
			unpacked: 400 * mib},
		{name: "just fits", mi: memInfo{Total: 1024 * mib, Available: 608 * mib},
			unpacked: 400 * mib},
		{name: "one MiB short", mi: memInfo{Total: 1024 * mib, Available: 607 * mib},
			unpacked: 400 * mib,
			wantErr:  []string{"607 MiB available of 1024 MiB", "need 608 MiB", "400 MiB unpacked"}},
		{name: "swapped pages come back", mi: memInfo{Total: 1024 * mib, Available: 700 * mib,
			SwapTotal: 512 * mib, SwapFree: 412 * mib}, unpacked: 400 * mib,
			wantErr: []string{"need 708 MiB", "100 MiB swapped out"}},
	} {
		err := checkMemory(tc.mi, tc.unpacked)
		if (err != nil) != (tc.wantErr != nil) {
			t.Errorf("%s: checkMemory() = %v, want error %v", tc.name, err, tc.wantErr != nil)
			continue
		}
		for _, part := range tc.wantErr {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("%s: checkMemory() = %q, want it to say %q", tc.name, err, part)
			}
		}
	}
}

func TestTmpfsSize(t *testing.T) {
	for _, tc := range []struct {
		unpacked, want int64
	}{
		{unpacked: 0, want: 16 << 20},
		{unpacked: 1, want: 17 << 20},
		{unpacked: 100 << 20, want: 116 << 20},
	} {
		if got := tmpfsSize(tc.unpacked); got != tc.want {
			t.Errorf("tmpfsSize(%d) = %d, want %d", tc.unpacked, got, tc.want)
		}
	}
}
