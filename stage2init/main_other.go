//go:build !linux

package stage2init

import "errors"

// Main is stage2 as PID 1, which only Linux has: elsewhere it refuses.
func Main() error {
	return errors.New("not implemented: stage2 runs only as PID 1 on Linux")
}
