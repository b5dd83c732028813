package fetch

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/takeover-dev/takeover/balenaapi"
)

// checkSpace refuses to start writing when the rest of the image plus
// MinFree does not fit in the work directory. Without a Content-Length it
// asks the API for a download-size hint.
func checkSpace(ctx context.Context, o Options, req balenaapi.DownloadRequest,
	d *balenaapi.Download, log logrus.FieldLogger) error {
	need := int64(0)
	if d.Size >= 0 {
		need = d.Size - d.Offset
	} else if hint, err := o.Client.DownloadSize(ctx, req.DeviceType, req.Version); err == nil {
		need = max(hint-d.Offset, 0)
	} else {
		log.WithError(err).Warn("image size unknown, checking only the minimum free space")
	}
	free, err := freeBytes(o.WorkDir)
	if err != nil {
		return err
	}
	if free < 0 {
		log.Debug("free space unknown on this system")
		return nil
	}
	if free < need+o.MinFree {
		return fmt.Errorf("%w in %s: %d bytes free, need %d for the image and %d to spare",
			ErrNoSpace, o.WorkDir, free, need, o.MinFree)
	}
	return nil
}
