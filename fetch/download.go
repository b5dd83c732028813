package fetch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/takeover-dev/takeover/balenaapi"
	"github.com/takeover-dev/takeover/progress"
)

var (
	// ErrNoSpace is matched when the work directory lacks room for the image.
	ErrNoSpace = errors.New("not enough free space")
	// errShort is a body that ended before the size the server announced.
	errShort = errors.New("download ended early")
)

// download fetches req into path through path+".part", with retries.
func download(ctx context.Context, o Options, req balenaapi.DownloadRequest, path string,
	log logrus.FieldLogger) error {
	part := path + ".part"
	for attempt := 0; ; attempt++ {
		err := attemptDownload(ctx, o, req, part, log)
		if err == nil {
			break
		}
		if attempt >= o.Retries || ctx.Err() != nil || !retryable(err) {
			return err
		}
		wait := backoff(o.Backoff, attempt)
		log.WithError(err).WithFields(logrus.Fields{"attempt": attempt + 1,
			"retries": o.Retries, "wait": wait.String()}).Warn("download failed, retrying")
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
	return commit(part, path)
}

// attemptDownload resumes part where it ends, or starts it over when the
// server sends the whole file, and reports whether every byte arrived.
func attemptDownload(ctx context.Context, o Options, req balenaapi.DownloadRequest,
	part string, log logrus.FieldLogger) error {
	offset, err := partSize(part)
	if err != nil {
		return err
	}
	d, err := o.Client.Download(ctx, req, offset)
	if offset > 0 && errors.Is(err, balenaapi.ErrBadRange) {
		// A .part the server cannot continue (longer than the image, say).
		log.WithError(err).Warn("server refused to resume, starting over")
		if err := os.Remove(part); err != nil {
			return fmt.Errorf("removing %s: %w", part, err)
		}
		offset = 0
		d, err = o.Client.Download(ctx, req, 0)
	}
	if err != nil {
		return err
	}
	defer d.Body.Close()
	if offset > 0 {
		log.WithFields(logrus.Fields{"offset": offset, "resumed": d.Offset == offset}).
			Info("resuming download")
	}
	if err := checkSpace(ctx, o, req, d, log); err != nil {
		return err
	}
	return receive(o, d, part, log)
}

// receive writes the body into part from d.Offset on and checks its size.
func receive(o Options, d *balenaapi.Download, part string, log logrus.FieldLogger) error {
	flags := os.O_WRONLY | os.O_CREATE
	if d.Offset == 0 {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(part, flags, 0o600)
	if err != nil {
		return fmt.Errorf("opening %s: %w", part, err)
	}
	defer f.Close()
	if _, err := f.Seek(d.Offset, io.SeekStart); err != nil {
		return fmt.Errorf("seeking %s to %d: %w", part, d.Offset, err)
	}
	if err := copyWithProgress(o, f, d, log); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", part, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", part, err)
	}
	return checkComplete(part, d.Size, log)
}

func copyWithProgress(o Options, f *os.File, d *balenaapi.Download, log logrus.FieldLogger) error {
	var total int64
	if d.Size > 0 {
		total = d.Size - d.Offset
	}
	counter := &progress.Counter{}
	rep := progress.Start(log, counter, progress.Options{Phase: "download", Total: total,
		TTY: o.TTY})
	_, err := io.Copy(f, io.TeeReader(bodyReader{d.Body}, counter))
	rep.Stop()
	if err != nil {
		return fmt.Errorf("receiving image at byte %d: %w", d.Offset+counter.N(), err)
	}
	return nil
}

// bodyReader marks read errors of the reply body, so that a connection
// lost mid-body (whatever the protocol's error type) is retried while a
// failed write to the work directory is not.
type bodyReader struct{ r io.Reader }

func (b bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = &bodyError{err: err}
	}
	return n, err
}

type bodyError struct{ err error }

func (e *bodyError) Error() string { return "reading reply: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// checkComplete compares the .part file with the size the server announced.
func checkComplete(part string, size int64, log logrus.FieldLogger) error {
	fi, err := os.Stat(part)
	if err != nil {
		return fmt.Errorf("checking %s: %w", part, err)
	}
	if size < 0 {
		// TODO: without a Content-Length a dropped connection looks like the
		// end of the file; the gzip trailer check in package image is the
		// only guard left, so say so.
		log.WithField("bytes", fi.Size()).
			Warn("server did not announce the image size, completeness rests on the gzip check")
		return nil
	}
	if fi.Size() != size {
		return fmt.Errorf("%w: have %d of %d bytes", errShort, fi.Size(), size)
	}
	return nil
}

func partSize(part string) (int64, error) {
	fi, err := os.Stat(part)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("checking %s: %w", part, err)
	}
	return fi.Size(), nil
}

// commit renames the complete part to the image's name, durably.
func commit(part, path string) error {
	if err := os.Rename(part, path); err != nil {
		return fmt.Errorf("renaming %s: %w", part, err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// retryable says whether an attempt failed for a reason another attempt
// may not meet: the network, a 5xx, a stall, a short body, a bad range.
// 4xx replies, pages that are not images and local errors are final.
func retryable(err error) bool {
	var se *balenaapi.StatusError
	if errors.As(err, &se) {
		return se.Temporary()
	}
	var ue *url.Error
	var oe *net.OpError // not net.Error: syscall.Errno satisfies it, EIO included
	var be *bodyError
	var ce *tls.CertificateVerificationError
	switch {
	case errors.Is(err, balenaapi.ErrNotImage), errors.Is(err, ErrNoSpace), errors.As(err, &ce):
		return false
	case errors.Is(err, balenaapi.ErrBadRange), errors.Is(err, balenaapi.ErrStalled),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, errShort),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	return errors.As(err, &be) || errors.As(err, &ue) || errors.As(err, &oe)
}

func backoff(first time.Duration, attempt int) time.Duration {
	d := first
	for i := 0; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting to retry: %w", ctx.Err())
	}
}
