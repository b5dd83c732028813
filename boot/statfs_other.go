//go:build !linux

package boot

import "errors"

func statfs(dir string) (magic, avail int64, err error) {
	return 0, 0, errors.New("statfs is only implemented on Linux")
}
