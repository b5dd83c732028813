// Package kexec loads the running kernel with our initramfs and jumps into
// it: finding the kernel image on disk and checking that it is the one
// running, building the new command line, choosing the rootfs type from the
// memory at hand, the kexec_file_load and kexec_load syscalls, explaining
// their errnos, and the final reboot into the loaded kernel.
//
// Policy (what to boot and when) belongs to package boot; this package is the
// mechanism.
package kexec
