package kexec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/sirupsen/logrus"
	ukexec "github.com/u-root/u-root/pkg/boot/kexec"
	"github.com/u-root/u-root/pkg/boot/linux"
	"golang.org/x/sys/unix"
)

// Load loads the kernel and initramfs, with the command line, as the image
// the next reboot(LINUX_REBOOT_CMD_KEXEC) boots. It uses kexec_file_load,
// which the kernel can check against Secure Boot keys. A compressed image
// the kernel refuses (arm64 takes only a plain Image) is unwrapped into a
// temporary file beside the initramfs, loaded, and removed. Where the kernel
// lacks kexec_file_load it falls back to kexec_load on amd64 and arm64.
// Files are opened read-only: the kernel refuses files open for writing.
// Pass the error through Explain for the user.
func Load(kernelPath, initrdPath, cmdline string, log logrus.FieldLogger) error {
	err := fileLoad(kernelPath, initrdPath, cmdline, log)
	if err == nil {
		return nil
	}
	if formatRefused(err) || fileLoadMissing(err, runtime.GOARCH) {
		plain, unwrapped, uerr := Unwrap(kernelPath, filepath.Dir(initrdPath))
		if uerr != nil {
			return fmt.Errorf("loading %s with kexec_file_load: %w (unwrapping it: %v)",
				kernelPath, err, uerr)
		}
		if unwrapped {
			defer os.Remove(plain)
			log.WithField("kernel", plain).Debug("loading the unwrapped kernel image")
			kernelPath = plain
			if formatRefused(err) {
				if err = fileLoad(plain, initrdPath, cmdline, log); err == nil {
					return nil
				}
			}
		}
	}
	if !fileLoadMissing(err, runtime.GOARCH) {
		return fmt.Errorf("loading %s with kexec_file_load: %w", kernelPath, err)
	}
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		return fmt.Errorf("loading %s with kexec_file_load (no kexec_load fallback on %s): %w",
			kernelPath, runtime.GOARCH, err)
	}
	log.WithField("errno", err).Warn("kernel lacks kexec_file_load, falling back to kexec_load")
	if lerr := segmentLoad(kernelPath, initrdPath, cmdline, log); lerr != nil {
		return fmt.Errorf("loading %s with kexec_load (kexec_file_load: %v): %w",
			kernelPath, err, lerr)
	}
	return nil
}

// fileLoad is kexec_file_load of two files.
func fileLoad(kernelPath, initrdPath, cmdline string, log logrus.FieldLogger) error {
	kernel, initrd, err := open(kernelPath, initrdPath)
	if err != nil {
		return err
	}
	defer kernel.Close()
	defer initrd.Close()
	log.WithFields(logrus.Fields{
		"kernel": kernelPath, "initramfs": initrdPath, "cmdline": cmdline,
	}).Debug("kexec_file_load")
	return kexecFileLoad(int(kernel.Fd()), int(initrd.Fd()), cmdline, 0)
}

func open(kernelPath, initrdPath string) (kernel, initrd *os.File, err error) {
	kernel, err = os.Open(kernelPath)
	if err != nil {
		return nil, nil, fmt.Errorf("opening kernel image: %w", err)
	}
	initrd, err = os.Open(initrdPath)
	if err != nil {
		kernel.Close()
		return nil, nil, fmt.Errorf("opening initramfs: %w", err)
	}
	return kernel, initrd, nil
}

// formatRefused reports whether kexec_file_load refused the image's format:
// x86 answers ENOEXEC; arm64 answers EINVAL from its Image probe.
func formatRefused(err error) bool {
	return errors.Is(err, unix.ENOEXEC) || errors.Is(err, unix.EINVAL)
}

// fileLoadMissing reports whether err means the kernel has no
// kexec_file_load. A 32-bit ARM kernel may also answer ENOEXEC.
func fileLoadMissing(err error, goarch string) bool {
	return errors.Is(err, unix.ENOSYS) || (goarch == "arm" && errors.Is(err, unix.ENOEXEC))
}

// segmentLoad loads with kexec_load through u-root, which lays out the
// segments and its own purgatory. u-root reports the errno inside
// ErrKexec, which does not unwrap; it is pulled out here so errors.Is works.
func segmentLoad(kernelPath, initrdPath, cmdline string, log logrus.FieldLogger) error {
	kernel, initrd, err := open(kernelPath, initrdPath)
	if err != nil {
		return err
	}
	defer kernel.Close()
	defer initrd.Close()
	err = linux.KexecLoad(kernel, initrd, cmdline, nil, nil)
	if err == nil {
		return nil
	}
	var ke ukexec.ErrKexec
	if errors.As(err, &ke) {
		log.WithField("detail", err.Error()).Debug("kexec_load failed")
		return fmt.Errorf("kexec_load: %w", ke.Errno)
	}
	return err
}

// Unload drops a loaded kexec image (KEXEC_FILE_UNLOAD), so a reboot is an
// ordinary reboot again.
// Where kexec_file_load is missing, kexec_load with no segments unloads.
func Unload() error {
	err := kexecFileLoad(-1, -1, "", unix.KEXEC_FILE_UNLOAD)
	if errors.Is(err, unix.ENOSYS) {
		_, _, errno := unix.Syscall6(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0, 0, 0)
		if errno == 0 {
			return nil
		}
		err = errno
	}
	if err != nil {
		return fmt.Errorf("unloading the kexec image: %w", err)
	}
	return nil
}
