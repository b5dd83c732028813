package kexec

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestChooseRootfs(t *testing.T) {
	const MiB = 1 << 20
	tests := []struct {
		name      string
		payload   int64
		total     int64
		available int64
		wantRamfs bool
		wantErr   string
	}{
		{name: "small payload, big machine: tmpfs", payload: 64 * MiB, total: 4096 * MiB,
			available: 3000 * MiB},
		{name: "exactly at the tmpfs cap: tmpfs", payload: 512*MiB - RootfsMargin, total: 1024 * MiB,
			available: 1000 * MiB},
		{name: "one byte past the tmpfs cap: ramfs", payload: 512*MiB - RootfsMargin + 1,
			total: 1024 * MiB, available: 1000 * MiB, wantRamfs: true},
		{name: "pi 3 with 1 GiB and a 400 MiB payload: ramfs", payload: 400 * MiB,
			total: 1024 * MiB, available: 1000 * MiB, wantRamfs: true},
		{name: "unpacking cannot fit", payload: 500 * MiB, total: 1024 * MiB,
			available: 2000 * MiB, wantErr: "build a smaller payload"},
		{name: "the old OS lacks memory to load", payload: 300 * MiB, total: 2048 * MiB,
			available: 600 * MiB, wantErr: "stop services to free memory"},
		{name: "empty payload", payload: 0, total: 1024 * MiB, available: 1000 * MiB,
			wantErr: "must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ChooseRootfs(tc.payload, tc.total, tc.available)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ChooseRootfs(%d, %d, %d) = %v, %v, want error %q",
						tc.payload, tc.total, tc.available, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.wantRamfs {
				t.Fatalf("ChooseRootfs(%d, %d, %d) = %v, %v, want %v",
					tc.payload, tc.total, tc.available, got, err, tc.wantRamfs)
			}
		})
	}
}

func TestMemInfo(t *testing.T) {
	proc := t.TempDir()
	writeFile(t, filepath.Join(proc, "meminfo"), []byte("MemTotal:        8038292 kB\n"+
		"MemFree:          412424 kB\nMemAvailable:    5120000 kB\nBuffers:  1 kB\n"+
		"HugePages_Total:       0\n"))
	total, avail, err := MemInfo(proc)
	wantTotal, wantAvail := int64(8038292)<<10, int64(5120000)<<10
	if err != nil || total != wantTotal || avail != wantAvail {
		t.Fatalf("MemInfo(fake) = %d, %d, %v, want %d, %d", total, avail, err, wantTotal, wantAvail)
	}
	writeFile(t, filepath.Join(proc, "meminfo"), []byte("MemTotal: 1024 kB\n"))
	if _, _, err := MemInfo(proc); err == nil {
		t.Fatalf("MemInfo(no MemAvailable) = nil error, want one")
	}
}
