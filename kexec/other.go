//go:build !linux

package kexec

import (
	"errors"

	"github.com/sirupsen/logrus"
)

// errNotLinux is what every syscall wrapper returns off Linux.
var errNotLinux = errors.New("kexec exists only on Linux")

// Load needs Linux.
func Load(kernelPath, initrdPath, cmdline string, log logrus.FieldLogger) error {
	return errNotLinux
}

// Unload needs Linux.
func Unload() error { return errNotLinux }

// Jump needs Linux.
func Jump(log logrus.FieldLogger) error { return errNotLinux }

// Explain has nothing to add off Linux.
func Explain(err error) error { return err }
