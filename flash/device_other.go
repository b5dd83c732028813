//go:build !linux

package flash

import (
	"context"
	"errors"
	"os"
)

var errNotLinux = errors.New("not implemented: block devices are Linux-only")

// Device is a whole disk; only Linux has one.
type Device struct{ File }

// Open fails outside Linux.
func Open(path string) (*Device, error) { return nil, errNotLinux }

// RereadPartitions fails outside Linux.
func RereadPartitions(ctx context.Context, path string) error { return errNotLinux }

// Name returns the device path.
func (d *Device) Name() string { return d.f.Name() }

func dropPages(f *os.File) error { return errNotLinux }
