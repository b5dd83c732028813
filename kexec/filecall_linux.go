//go:build linux && !386 && !mips && !mipsle && !mips64 && !mips64le

package kexec

import "golang.org/x/sys/unix"

// kexecFileLoad is kexec_file_load(2).
func kexecFileLoad(kernelFd, initrdFd int, cmdline string, flags int) error {
	return unix.KexecFileLoad(kernelFd, initrdFd, cmdline, flags)
}
