package kexec

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestExplain(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		disabled string // /proc/sys/kernel/kexec_load_disabled
		lockdown string // /sys/kernel/security/lockdown
		want     string
	}{
		{name: "not built", err: unix.ENOSYS, want: "built without kexec"},
		{name: "sysctl", err: unix.EPERM, disabled: "1\n",
			lockdown: "[none] integrity confidentiality\n", want: "kexec_load_disabled=1"},
		{name: "lockdown", err: unix.EPERM, disabled: "0\n",
			lockdown: "none [integrity] confidentiality\n", want: "locked down (integrity"},
		{name: "no capability", err: unix.EPERM, disabled: "0\n",
			lockdown: "[none] integrity confidentiality\n", want: "CAP_SYS_BOOT"},
		{name: "no lockdown file", err: unix.EPERM, want: "CAP_SYS_BOOT"},
		{name: "signature", err: unix.EKEYREJECTED, want: "signature was rejected"},
		{name: "pi cpus", err: unix.EBUSY, want: "CPUs are stuck"},
		{name: "format", err: unix.ENOEXEC, want: "image format"},
		{name: "memory", err: unix.ENOMEM, want: "free memory"},
		{name: "invalid", err: unix.EINVAL, want: "invalid"},
		{name: "too big", err: unix.EFBIG, want: "2 GiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			proc, sys := t.TempDir(), t.TempDir()
			if tc.disabled != "" {
				writeFile(t, filepath.Join(proc, "sys/kernel/kexec_load_disabled"),
					[]byte(tc.disabled))
			}
			if tc.lockdown != "" {
				writeFile(t, filepath.Join(sys, "kernel/security/lockdown"), []byte(tc.lockdown))
			}
			in := fmt.Errorf("loading /boot/vmlinuz with kexec_file_load: %w", tc.err)
			got := explain(in, proc, sys)
			if !errors.Is(got, tc.err) {
				t.Fatalf("explain(%v) = %v, lost the errno", in, got)
			}
			if !strings.Contains(got.Error(), tc.want) || !strings.HasPrefix(got.Error(), in.Error()) {
				t.Fatalf("explain(%v) = %q, want %q after the original error", in, got, tc.want)
			}
		})
	}
}

func TestExplainLeavesOtherErrors(t *testing.T) {
	for _, in := range []error{errors.New("plain"), fmt.Errorf("x: %w", unix.EIO)} {
		if got := explain(in, t.TempDir(), t.TempDir()); got != in {
			t.Fatalf("explain(%v) = %v, want it unchanged", in, got)
		}
	}
}

func TestFileLoadMissing(t *testing.T) {
	tests := []struct {
		err    error
		goarch string
		want   bool
	}{
		{err: unix.ENOSYS, goarch: "arm64", want: true},
		{err: unix.ENOEXEC, goarch: "arm", want: true},
		{err: unix.ENOEXEC, goarch: "arm64", want: false},
		{err: unix.EPERM, goarch: "amd64", want: false},
	}
	for _, tc := range tests {
		if got := fileLoadMissing(tc.err, tc.goarch); got != tc.want {
			t.Errorf("fileLoadMissing(%v, %s) = %v, want %v", tc.err, tc.goarch, got, tc.want)
		}
	}
}

func TestInitIsSystemd(t *testing.T) {
	for comm, want := range map[string]bool{"systemd\n": true, "init\n": false, "": false} {
		proc := t.TempDir()
		if comm != "" {
			writeFile(t, filepath.Join(proc, "1/comm"), []byte(comm))
		}
		if got := initIsSystemd(proc); got != want {
			t.Errorf("initIsSystemd(comm %q) = %v, want %v", comm, got, want)
		}
	}
}
