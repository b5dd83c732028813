//go:build !linux

package boot

func statfs(dir string) (magic, avail int64, err error) {
	return 0, 0, errNoStatfs
}
