package initswap

import (
	"errors"

	"golang.org/x/sys/unix"
)

// fallBackOn are the kexec errnos after which the init swap is the way on:
// the kernel cannot or will not kexec, but the machine can still be taken
// over from the running kernel.
var fallBackOn = map[unix.Errno]string{
	unix.ENOSYS:  "the kernel has no kexec",
	unix.EPERM:   "kexec is disabled (kernel.kexec_load_disabled=1) or forbidden by lockdown",
	unix.EBUSY:   "the kernel cannot stop its secondary CPUs for kexec",
	unix.ENOEXEC: "the kernel cannot kexec this image format",
	unix.EFBIG:   "the initramfs is larger than the kernel's kexec file limit",
}

// FallBack reports whether an error from loading the kexec image means
// "use the init swap", and why. Every other error stops the run: a bad or
// unsigned kernel image is fixed with --kernel, too little memory for kexec
// is too little for the swap as well, and an invalid initramfs is as invalid
// unpacked.
func FallBack(err error) (string, bool) {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return "", false
	}
	why, ok := fallBackOn[errno]
	return why, ok
}
