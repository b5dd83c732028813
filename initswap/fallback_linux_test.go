package initswap

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

func TestFallBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{name: "no kexec in the kernel", err: unix.ENOSYS, want: true},
		{name: "kexec_load_disabled", err: fmt.Errorf("loading /boot/vmlinuz: %w", unix.EPERM),
			want: true},
		{name: "arm64 CPUs stuck", err: fmt.Errorf("a: %w", fmt.Errorf("b: %w", unix.EBUSY)),
			want: true},
		{name: "format refused", err: unix.ENOEXEC, want: true},
		{name: "initramfs over the file limit", err: unix.EFBIG, want: true},
		{name: "signature rejected", err: unix.EKEYREJECTED, want: false},
		{name: "no memory", err: unix.ENOMEM, want: false},
		{name: "invalid initramfs", err: unix.EINVAL, want: false},
		{name: "file busy", err: unix.ETXTBSY, want: false},
		{name: "no errno", err: errors.New("opening kernel image: no such file"), want: false},
	} {
		why, got := FallBack(tc.err)
		if got != tc.want {
			t.Errorf("%s: FallBack(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
		if got && why == "" {
			t.Errorf("%s: FallBack(%v) falls back without a reason", tc.name, tc.err)
		}
	}
}
