package stage1

import (
	"fmt"
	"io"
	"os"

	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/initramfs"
)

// InspectInitrd lists what an initramfs holds and prints its plan.
func InspectInitrd(path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return exitcode.With(exitcode.Usage, fmt.Errorf("opening initramfs: %w", err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return exitcode.With(exitcode.Initramfs, fmt.Errorf("reading %s: %w", path, err))
	}
	l, err := initramfs.Inspect(f, st.Size())
	if err != nil {
		return exitcode.With(exitcode.Initramfs, fmt.Errorf("reading initramfs %s: %w", path, err))
	}
	return l.Print(w)
}
