//go:build !linux

package kmod

import (
	"errors"
	"fmt"
	"syscall"
)

var (
	errENOENT       = syscall.ENOENT
	errENOEXEC      = errors.New("ENOEXEC")
	errEPERM        = syscall.EPERM
	errEKEYREJECTED = errors.New("EKEYREJECTED")
)

// Load loads a kernel module; only Linux has them.
func Load(path, params string) error {
	return fmt.Errorf("loading kernel module %s: %w", path, errors.ErrUnsupported)
}
