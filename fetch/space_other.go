//go:build !linux

package fetch

// freeBytes returns -1: the free-space check runs on Linux only.
func freeBytes(dir string) (int64, error) { return -1, nil }
