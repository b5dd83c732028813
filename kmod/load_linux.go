package kmod

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

var (
	errENOENT       = unix.ENOENT
	errENOEXEC      = unix.ENOEXEC
	errEPERM        = unix.EPERM
	errEKEYREJECTED = unix.EKEYREJECTED
)

// Load loads one kernel module file with the given parameters: an
// uncompressed .ko with finit_module, a compressed one decompressed in
// memory and passed to init_module. A module already loaded (EEXIST) is
// success.
func Load(path, params string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("loading kernel module: %w", err)
	}
	defer f.Close()

	call := "finit_module"
	if compressed(path) {
		call = "init_module"
		data, rerr := readModule(f)
		if rerr != nil {
			return fmt.Errorf("loading kernel module: %w", rerr)
		}
		err = unix.InitModule(data, params)
	} else {
		err = unix.FinitModule(int(f.Fd()), params, 0)
	}

	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("loading kernel module %s: %s: %w%s", path, call, err, errnoHint(err))
	}
	return nil
}
