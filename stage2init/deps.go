package stage2init

import (
	"fmt"
	"io"

	"github.com/takeover-dev/takeover/image"
)

// openImage opens the payload image decompressed, by the plan's
// compression name.
func openImage(path, compression string) (io.ReadCloser, error) {
	f := image.Format(compression)
	switch f {
	case image.Raw, image.Gzip, image.Zstd, image.XZ, image.Zip:
		return image.OpenRaw(path, f)
	}
	return nil, fmt.Errorf("opening image %s: unknown compression %q", path, compression)
}
