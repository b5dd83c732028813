package balenaapi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// DownloadRequest names the image to download.
type DownloadRequest struct {
	DeviceType string // slug
	Version    string // an exact raw_version, e.g. 5.1.20+rev1
	Raw        bool   // ask for the raw image ("imageType":"raw"); set for flashers
}

// Download is an image download under way. The caller reads Body to EOF
// and closes it. Read errors are the caller's to judge; a body that ends
// before the length the server announced fails with io.ErrUnexpectedEOF.
type Download struct {
	Body   io.ReadCloser // the file from Offset on
	Offset int64         // where Body starts: the asked offset, or 0 if the server sent it all
	Size   int64         // size of the whole file, -1 when the server did not say
}

var (
	// ErrNotImage is matched when a reply is not a gzip file (an HTML page).
	ErrNotImage = errors.New("reply is not a gzip image")
	// ErrStalled is matched when no byte arrived for the client's timeout.
	ErrStalled = errors.New("download stalled")
	// ErrBadRange is matched when the server's partial reply does not start
	// where it was asked to (or cannot: 416 Range Not Satisfiable).
	ErrBadRange = errors.New("server answered a different range")
)

// downloadBody is the JSON body of POST /download. ImageType is null, not
// left out, for a non-flasher, as the original sends it.
type downloadBody struct {
	DeviceType string  `json:"deviceType"`
	Version    string  `json:"version"`
	FileType   string  `json:"fileType"`
	ImageType  *string `json:"imageType"`
}

// Download asks POST /download for the gzip image of r, from byte offset
// on (a Range request when offset > 0). The reply is checked: a 200 (the
// whole file) or a 206 that starts at offset, not compressed in transit,
// and, from byte 0, a gzip header rather than an HTML page.
func (c *Client) Download(ctx context.Context, r DownloadRequest, offset int64) (*Download, error) {
	op := "downloading " + r.DeviceType + " " + r.Version
	if err := checkSlug(r.DeviceType); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if r.Version == "" || offset < 0 {
		return nil, fmt.Errorf("%s: need a version and an offset >= 0", op)
	}
	body := downloadBody{DeviceType: r.DeviceType, Version: r.Version, FileType: ".gz"}
	if r.Raw {
		raw := "raw"
		body.ImageType = &raw
	}
	ctx, cancel := context.WithCancel(ctx)
	req, err := c.request(ctx, http.MethodPost, "/download", "", body)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Accept-Encoding", "identity") // the bytes as stored, no transparent gunzip
	if offset > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	d, err := c.startDownload(req, cancel, offset)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return d, nil
}

func (c *Client) startDownload(req *http.Request, cancel context.CancelFunc,
	offset int64) (*Download, error) {
	body := &idleBody{timeout: c.timeout, cancel: cancel}
	body.timer = time.AfterFunc(c.timeout, body.expire)
	resp, err := c.http.Do(req)
	if err != nil {
		body.timer.Stop()
		if body.stalled.Load() {
			return nil, fmt.Errorf("%w: no reply for %s", ErrStalled, c.timeout)
		}
		return nil, err
	}
	body.rc = resp.Body
	d, err := checkReply(resp, offset)
	if err != nil {
		body.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(body, 512)
	if d.Offset == 0 {
		if err := checkGzipStart(resp.Header.Get("Content-Type"), br); err != nil {
			body.Close()
			return nil, err
		}
	}
	d.Body = struct {
		io.Reader
		io.Closer
	}{br, body}
	return d, nil
}

// checkReply checks the status and headers of a download reply.
func checkReply(resp *http.Response, offset int64) (*Download, error) {
	if enc := resp.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
		return nil, fmt.Errorf("%w: content encoding %q in transit", ErrNotImage, enc)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return &Download{Offset: 0, Size: resp.ContentLength}, nil
	case http.StatusPartialContent:
		return partialReply(resp, offset)
	case http.StatusRequestedRangeNotSatisfiable:
		return nil, fmt.Errorf("%w: %w", ErrBadRange, statusError("asking for a range", resp))
	default:
		return nil, statusError("asking for the image", resp)
	}
}

// partialReply reads "Content-Range: bytes first-last/size" of a 206.
func partialReply(resp *http.Response, offset int64) (*Download, error) {
	cr := resp.Header.Get("Content-Range")
	var first, last int64
	var size string
	if _, err := fmt.Sscanf(cr, "bytes %d-%d/%s", &first, &last, &size); err != nil {
		return nil, fmt.Errorf("%w: content range %q: %w", ErrBadRange, cr, err)
	}
	if first != offset || last < first {
		return nil, fmt.Errorf("%w: content range %q, asked from %d", ErrBadRange, cr, offset)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != last-first+1 {
		return nil, fmt.Errorf("%w: content range %q with content length %d",
			ErrBadRange, cr, resp.ContentLength)
	}
	d := &Download{Offset: first, Size: -1}
	if size != "*" {
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil || n <= last {
			return nil, fmt.Errorf("%w: content range %q", ErrBadRange, cr)
		}
		d.Size = n
	}
	if d.Size > 0 && last != d.Size-1 {
		return nil, fmt.Errorf("%w: content range %q ends before the file", ErrBadRange, cr)
	}
	return d, nil
}

// checkGzipStart refuses a reply that does not start like a gzip file,
// naming an HTML page when it is one.
func checkGzipStart(contentType string, br *bufio.Reader) error {
	if ct, _, _ := mime.ParseMediaType(contentType); ct == "text/html" {
		return fmt.Errorf("%w: content type %s", ErrNotImage, ct)
	}
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the start of the image: %w", err)
	}
	if bytes.HasPrefix(head, []byte{0x1f, 0x8b}) {
		return nil
	}
	if sniff := http.DetectContentType(head); strings.HasPrefix(sniff, "text/html") {
		return fmt.Errorf("%w: an html page: %s", ErrNotImage, snippet(head[:min(len(head), 80)]))
	}
	return fmt.Errorf("%w: starts with %q", ErrNotImage, head[:min(len(head), 8)])
}

// idleBody cancels the download when no byte arrives for timeout.
type idleBody struct {
	rc      io.ReadCloser // the reply body
	timeout time.Duration
	timer   *time.Timer
	cancel  context.CancelFunc
	stalled atomic.Bool
}

func (b *idleBody) expire() {
	b.stalled.Store(true)
	b.cancel()
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.timer.Reset(b.timeout)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		err = b.wrap(err)
	}
	return n, err
}

func (b *idleBody) wrap(err error) error {
	if b.stalled.Load() {
		return fmt.Errorf("%w: no data for %s: %w", ErrStalled, b.timeout, err)
	}
	return err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	b.cancel()
	if b.rc == nil {
		return nil
	}
	return b.rc.Close()
}
