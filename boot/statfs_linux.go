package boot

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// statfs returns the file system magic of dir and the bytes free to an
// unprivileged writer.
func statfs(dir string) (magic, avail int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Type), int64(st.Bavail) * int64(st.Bsize), nil
}
