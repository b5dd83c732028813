//go:build linux && (386 || mips || mipsle || mips64 || mips64le)

package kexec

import "golang.org/x/sys/unix"

// kexecFileLoad is not wired up for this architecture in x/sys; the kernel
// has no kexec_file_load on it either.
func kexecFileLoad(kernelFd, initrdFd int, cmdline string, flags int) error {
	return unix.ENOSYS
}
