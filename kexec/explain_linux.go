package kexec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// explanation says what an errno from the kexec syscalls means and what
// the user can do about it.
type explanation struct {
	meaning string
	fix     string
}

// explanations is the one table of kexec errnos. EPERM has several causes;
// permissionCause tells them apart.
var explanations = map[unix.Errno]explanation{
	unix.ENOSYS: {"this kernel was built without kexec (CONFIG_KEXEC_FILE, CONFIG_KEXEC)",
		"takeover falls back to the init swap; for kexec use a kernel built with it"},
	unix.EPERM: {"the kernel refused to load a new kernel: this process lacks CAP_SYS_BOOT " +
		"(not root, or inside a container), or a security module forbids kexec",
		"run takeover as root (it needs CAP_SYS_BOOT)"},
	unix.EKEYREJECTED: {"the kernel requires signed kexec images (CONFIG_KEXEC_SIG_FORCE) " +
		"and the image's signature was rejected",
		"pass the running distribution's signed kernel with --kernel"},
	unix.EKEYREVOKED: {"the kernel image is signed with a revoked key",
		"pass a current signed kernel with --kernel"},
	unix.ENOKEY: {"the kernel image is signed with a key the kernel does not trust",
		"pass the running distribution's signed kernel with --kernel"},
	unix.EBADMSG: {"the kernel image's signature is malformed",
		"pass the running distribution's signed kernel with --kernel"},
	unix.EBUSY: {"another kexec load is running, or (arm64) the secondary CPUs cannot be " +
		"taken offline: firmware with spin tables, such as the Raspberry Pi 3 and 4, " +
		"has no way to stop them (dmesg: \"CPUs are stuck in the kernel\")",
		"takeover falls back to the init swap; if another kexec load was running, run takeover again"},
	unix.ENOEXEC: {"the kernel does not accept this image format (x86 needs a bzImage loadable " +
		"above 4 GiB, arm64 a plain Image; 32-bit ARM has no kexec_file_load at all)",
		"pass the running kernel's image with --kernel; otherwise takeover falls back to the init swap"},
	unix.ENOMEM: {"the kernel found no memory for the new kernel and initramfs",
		"stop services to free memory, or build a smaller payload"},
	unix.EINVAL: {"the kernel found the image or initramfs invalid (empty, truncated) " +
		"or the command line too long",
		"rebuild the payload with build-initrd and check --kernel"},
	unix.EFBIG: {"the initramfs is larger than this kernel reads in one file " +
		"(2 GiB before Linux 6.0)",
		"build a smaller payload"},
	unix.ETXTBSY: {"the kernel image or initramfs is open for writing elsewhere",
		"stop whatever writes to it and run takeover again"},
}

// Explain adds to err what a kexec errno means and what the user can do.
// The errno stays reachable with errors.Is. Errors without a known errno are
// returned as they are.
func Explain(err error) error {
	return explain(err, "/proc", "/sys")
}

func explain(err error, procRoot, sysRoot string) error {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return err
	}
	e, ok := explanations[errno]
	if !ok {
		return err
	}
	if errno == unix.EPERM {
		e = permissionCause(procRoot, sysRoot, e)
	}
	return fmt.Errorf("%w: %s; %s", err, e.meaning, e.fix)
}

// permissionCause finds which of EPERM's causes applies: the one-way
// sysctl, kernel lockdown (Secure Boot), or a missing capability.
func permissionCause(procRoot, sysRoot string, fallback explanation) explanation {
	disabled := readTrimmed(filepath.Join(procRoot, "sys/kernel/kexec_load_disabled"))
	if disabled == "1" {
		return explanation{
			"kexec is disabled by the sysctl kernel.kexec_load_disabled=1, " +
				"which cannot be undone until the next reboot",
			"remove the setting from /etc/sysctl.d (or the kernel command line), " +
				"reboot, and run takeover again; until then takeover falls back to the init swap"}
	}
	lockdown := readTrimmed(filepath.Join(sysRoot, "kernel/security/lockdown"))
	if mode := lockdownMode(lockdown); mode != "" && mode != "none" {
		return explanation{
			"the kernel is locked down (" + mode + ", usually by Secure Boot): " +
				"it loads only kernels signed by a trusted key, and never with kexec_load",
			"pass the running distribution's signed kernel with --kernel, " +
				"or turn Secure Boot off in the firmware"}
	}
	return fallback
}

// lockdownMode picks the bracketed mode of "none [integrity] confidentiality".
func lockdownMode(s string) string {
	start, end := strings.IndexByte(s, '['), strings.IndexByte(s, ']')
	if start < 0 || end < start {
		return ""
	}
	return s[start+1 : end]
}

func readTrimmed(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
