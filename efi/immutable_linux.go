package efi

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

const (
	efivarfsMagic   = 0xde5e81e4 // efivarfs's f_type in statfs
	fsImmutableFlag = 0x00000010 // FS_IMMUTABLE_FL of linux/fs.h
)

// isEfivarfs reports whether dir is an efivarfs mount.
func isEfivarfs(dir string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return uint32(st.Type) == efivarfsMagic, nil
}

// clearImmutable clears FS_IMMUTABLE_FL, which efivarfs sets on most
// variables so that a stray rm cannot delete them.
func clearImmutable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		return fmt.Errorf("ioctl FS_IOC_GETFLAGS on %s: %w", path, err)
	}
	if flags&fsImmutableFlag == 0 {
		return nil
	}
	flags &^= fsImmutableFlag
	if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags)); err != nil {
		return fmt.Errorf("ioctl FS_IOC_SETFLAGS on %s: %w", path, err)
	}
	return nil
}
