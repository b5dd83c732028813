package kexec

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

func TestRelease(t *testing.T) {
	proc := t.TempDir()
	writeFile(t, filepath.Join(proc, "version"), []byte("Linux version 6.1.0-57-cloud-amd64 "+
		"(debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0) #1 SMP "+
		"PREEMPT_DYNAMIC Debian 6.1.158-1 (2025-11-09)\n"))
	got, err := Release(proc)
	if err != nil || got != "6.1.0-57-cloud-amd64" {
		t.Fatalf("Release(fake /proc) = %q, %v, want 6.1.0-57-cloud-amd64", got, err)
	}
}

func TestFindKernel(t *testing.T) {
	const rel = "6.6.51+rpt-rpi-v8"
	bz := func(v string) []byte { return fakeBzImage(v + " (builder@host) #1 SMP") }
	tests := []struct {
		name    string
		files   map[string][]byte // relative to root
		want    string            // relative to root; "" means an error
		wantErr string
	}{
		{
			name:  "debian",
			files: map[string][]byte{"boot/vmlinuz-" + rel: bz(rel)},
			want:  "boot/vmlinuz-" + rel,
		},
		{
			name: "fedora modules dir",
			files: map[string][]byte{
				"lib/modules/" + rel + "/vmlinuz": bz(rel),
			},
			want: "lib/modules/" + rel + "/vmlinuz",
		},
		{
			name: "arch after an upgrade: the image on disk is newer",
			files: map[string][]byte{
				"boot/vmlinuz-linux":     bz("6.7.0-arch1-1"),
				"boot/vmlinuz-linux-lts": bz(rel),
			},
			want: "boot/vmlinuz-linux-lts",
		},
		{
			name: "raspberry pi os bookworm: kernel_2712 is for the pi 5",
			files: map[string][]byte{
				"boot/firmware/kernel_2712.img": fakeArm64Image("6.6.51+rpt-rpi-2712"),
				"boot/firmware/kernel8.img":     fakeArm64Image(rel),
			},
			want: "boot/firmware/kernel8.img",
		},
		{
			name: "raspberry pi config.txt kernel=",
			files: map[string][]byte{
				"boot/firmware/config.txt":  []byte("[pi4]\narm_64bit=1\nkernel = custom8.img\n[all]\n"),
				"boot/firmware/custom8.img": fakeArm64Image(rel),
				"boot/firmware/kernel8.img": fakeArm64Image("6.1.21-v8+"),
			},
			want: "boot/firmware/custom8.img",
		},
		{
			name:  "ubuntu on a pi: gzip vmlinuz",
			files: map[string][]byte{"boot/firmware/vmlinuz": gzipped(t, fakeArm64Image(rel))},
			want:  "boot/firmware/vmlinuz",
		},
		{
			name:    "only other releases",
			files:   map[string][]byte{"boot/vmlinuz-6.1.0-17-amd64": bz("6.1.0-17-amd64")},
			wantErr: "vmlinuz-6.1.0-17-amd64 is 6.1.0-17-amd64",
		},
		{
			name:    "nothing at all",
			files:   map[string][]byte{},
			wantErr: "no kernel image in the usual places; pass its path with --kernel",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for name, b := range tc.files {
				writeFile(t, filepath.Join(root, name), b)
			}
			log, _ := test.NewNullLogger()
			got, err := FindKernel(root, rel, "", log)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) ||
					!strings.Contains(err.Error(), "--kernel") {
					t.Fatalf("FindKernel(%s) = %q, %v, want an error with %q and --kernel",
						tc.name, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != filepath.Join(root, tc.want) {
				t.Fatalf("FindKernel(%s) = %q, %v, want %s", tc.name, got, err, tc.want)
			}
		})
	}
}

func TestFindKernelOverride(t *testing.T) {
	const rel = "6.1.0-18-amd64"
	tests := []struct {
		name     string
		image    []byte
		wantErr  string
		wantWarn bool
	}{
		{name: "matching", image: fakeBzImage(rel + " (x) #1")},
		{name: "other release", image: fakeBzImage("6.1.0-17-amd64 (x) #1"),
			wantErr: "is release 6.1.0-17-amd64 but 6.1.0-18-amd64 is running"},
		{name: "no version", image: make([]byte, 4096), wantWarn: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			// A matching image in /boot must not matter: --kernel wins.
			writeFile(t, filepath.Join(root, "boot/vmlinuz-"+rel), fakeBzImage(rel+" (x)"))
			override := writeFile(t, filepath.Join(root, "custom"), tc.image)
			log, hook := test.NewNullLogger()
			got, err := FindKernel(root, rel, override, log)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("FindKernel(--kernel %s) = %q, %v, want error %q", tc.name, got, err,
						tc.wantErr)
				}
				return
			}
			if err != nil || got != override {
				t.Fatalf("FindKernel(--kernel %s) = %q, %v, want %q", tc.name, got, err, override)
			}
			warned := hook.LastEntry() != nil && hook.LastEntry().Level == logrus.WarnLevel
			if warned != tc.wantWarn {
				t.Fatalf("FindKernel(--kernel %s) warned %v, want %v", tc.name, warned, tc.wantWarn)
			}
		})
	}
}
