package fetch

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/takeover-dev/takeover/balenaapi"
	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/fakeapi"
)

const imageSize = 256 << 10 // compressed size of each test image, about

type env struct {
	fake   *fakeapi.Server
	opts   Options
	images map[string][]byte // file name in the fake's directory -> bytes
	log    *test.Hook
}

// newEnv starts a fake API with two intel-nuc images and one raspberrypi3
// image, and returns fetch options aimed at it.
func newEnv(t *testing.T, versions map[string][]string) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{images: map[string][]byte{}}
	for i, name := range []string{"intel-nuc-5.1.20+rev1.img.gz", "intel-nuc-5.1.20.img.gz",
		"raspberrypi3-2.0.0.img.gz"} {
		e.images[name] = writeGzip(t, filepath.Join(dir, name), imageSize, int64(i))
	}
	fake, err := fakeapi.New(fakeapi.Options{ImagesDir: dir, Versions: versions, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fake.Close() })
	url, err := fake.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	client, err := balenaapi.New(balenaapi.Options{Endpoint: url, APIKey: "k",
		Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	log, hook := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	e.fake, e.log = fake, hook
	e.opts = Options{Client: client, DeviceType: "intel-nuc", WorkDir: t.TempDir(), Log: log,
		Backoff: time.Millisecond}
	return e
}

func writeGzip(t *testing.T, path string, n int, seed int64) []byte {
	t.Helper()
	raw := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(raw)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// downloads returns the /download requests the fake saw.
func (e *env) downloads() []fakeapi.Request {
	var out []fakeapi.Request
	for _, r := range e.fake.Requests() {
		if r.Path == "/download" {
			out = append(out, r)
		}
	}
	return out
}

// checkImage asserts that path holds want and that its sidecar is right.
func checkImage(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("image %s: %d bytes, %v; want the %d served", path, len(got), err, len(want))
	}
	sum := sha256.Sum256(want)
	side, err := os.ReadFile(SidecarPath(path))
	wantSide := hex.EncodeToString(sum[:]) + "  " + filepath.Base(path) + "\n"
	if err != nil || string(side) != wantSide {
		t.Errorf("sidecar = %q, %v, want %q", side, err, wantSide)
	}
	if _, err := os.Stat(path + ".part"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.part left behind: %v", path, err)
	}
}

func TestImageFlasherGetsRaw(t *testing.T) {
	e := newEnv(t, nil)
	path, version, err := Image(context.Background(), e.opts)
	if err != nil {
		t.Fatalf("Image(intel-nuc) = %v", err)
	}
	wantPath := filepath.Join(e.opts.WorkDir, "balena-cloud-intel-nuc-5.1.20+rev1.img.gz")
	if path != wantPath || version != "5.1.20+rev1" {
		t.Errorf("Image(intel-nuc) = %s, %s, want %s, 5.1.20+rev1", path, version, wantPath)
	}
	checkImage(t, path, e.images["intel-nuc-5.1.20+rev1.img.gz"])
	d := e.downloads()
	if len(d) != 1 || !strings.Contains(d[0].Body, `"imageType":"raw"`) {
		t.Errorf("download requests = %+v, want one asking for imageType raw", d)
	}
}

func TestImageNonFlasherAndSpec(t *testing.T) {
	e := newEnv(t, map[string][]string{"raspberrypi3": {"not-semver"}})
	e.opts.DeviceType, e.opts.Version = "raspberrypi3", "^2.0"
	_, version, err := Image(context.Background(), e.opts)
	if err != nil || version != "2.0.0" {
		t.Fatalf("Image(raspberrypi3 ^2.0) = %s, %v, want 2.0.0", version, err)
	}
	if d := e.downloads(); len(d) != 1 || !strings.Contains(d[0].Body, `"imageType":null`) {
		t.Errorf("download requests = %+v, want one with imageType null", d)
	}
	warned := false
	for _, entry := range e.log.AllEntries() {
		if entry.Level == logrus.WarnLevel && entry.Data["version"] == "not-semver" {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning about the skipped version not-semver")
	}
}

func TestImageRetriesServerErrors(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.SetFault(fakeapi.Fault{FailCount: 2, FailStatus: 502})
	e.opts.Retries = 2
	path, _, err := Image(context.Background(), e.opts)
	if err != nil {
		t.Fatalf("Image with 2 failures and 2 retries = %v", err)
	}
	checkImage(t, path, e.images["intel-nuc-5.1.20+rev1.img.gz"])
	if n := len(e.downloads()); n != 3 {
		t.Errorf("download requests = %d, want 3", n)
	}
}

func TestImageGivesUpAfterRetries(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.SetFault(fakeapi.Fault{FailCount: 3})
	e.opts.Retries = 2
	_, _, err := Image(context.Background(), e.opts)
	var se *balenaapi.StatusError
	if !errors.As(err, &se) || se.Status != 503 || exitcode.Of(err) != exitcode.Fetch {
		t.Fatalf("Image with 3 failures and 2 retries = %v (code %v), want a 503 tagged fetch",
			err, exitcode.Of(err))
	}
	if n := len(e.downloads()); n != 3 {
		t.Errorf("download requests = %d, want 3", n)
	}
}

func TestImageNoRetryOnClientErrors(t *testing.T) {
	tests := []struct {
		name    string
		version string
		fault   fakeapi.Fault
		want    error
	}{
		{name: "404", version: "9.9.9", want: balenaapi.ErrNotFound},
		{name: "html page", version: "5.1.20", fault: fakeapi.Fault{HTMLPage: true},
			want: balenaapi.ErrNotImage},
	}
	for _, tt := range tests {
		e := newEnv(t, map[string][]string{"intel-nuc": {"9.9.9"}})
		e.fake.SetFault(tt.fault)
		e.opts.Version, e.opts.Retries = tt.version, 3
		path, _, err := Image(context.Background(), e.opts)
		if !errors.Is(err, tt.want) || exitcode.Of(err) != exitcode.Fetch || path != "" {
			t.Errorf("%s: Image = %q, %v, want %v tagged fetch", tt.name, path, err, tt.want)
		}
		if n := len(e.downloads()); n != 1 {
			t.Errorf("%s: download requests = %d, want 1 (no retry)", tt.name, n)
		}
		assertNoImage(t, e.opts.WorkDir)
	}
}

func assertNoImage(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		if !strings.HasSuffix(en.Name(), ".part") {
			t.Errorf("work dir holds %s after a failed download, want at most a .part", en.Name())
		}
	}
}

func TestImageResumesCutBody(t *testing.T) {
	tests := []struct {
		name      string
		noRange   bool
		wantRange string
	}{
		{name: "range honoured", wantRange: "bytes=65536-"},
		{name: "range ignored", noRange: true, wantRange: "bytes=65536-"},
	}
	for _, tt := range tests {
		e := newEnv(t, nil)
		e.fake.SetFault(fakeapi.Fault{CutAfter: 64 << 10, CutCount: 1, NoRange: tt.noRange})
		e.opts.Retries = 1
		path, _, err := Image(context.Background(), e.opts)
		if err != nil {
			t.Fatalf("%s: Image after a cut body = %v", tt.name, err)
		}
		checkImage(t, path, e.images["intel-nuc-5.1.20+rev1.img.gz"])
		d := e.downloads()
		if len(d) != 2 || d[1].Range != tt.wantRange {
			t.Errorf("%s: download requests = %+v, want 2, the second with Range %s",
				tt.name, d, tt.wantRange)
		} else if want := map[bool]int{false: 206, true: 200}[tt.noRange]; d[1].Status != want {
			t.Errorf("%s: second download status %d, want %d", tt.name, d[1].Status, want)
		}
	}
}

func TestImageCutBodyWithoutRetriesFails(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.SetFault(fakeapi.Fault{CutAfter: 64 << 10})
	e.opts.Retries = 1
	path, _, err := Image(context.Background(), e.opts)
	if err == nil || path != "" || exitcode.Of(err) != exitcode.Fetch {
		t.Fatalf("Image with every body cut = %q, %v, want an error tagged fetch", path, err)
	}
	assertNoImage(t, e.opts.WorkDir)
	if n := len(e.downloads()); n != 2 {
		t.Errorf("download requests = %d, want 2", n)
	}
}

func TestImageReusesVerifiedImage(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	path, _, err := Image(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Image(ctx, e.opts); err != nil {
		t.Fatalf("second Image = %v", err)
	}
	if n := len(e.downloads()); n != 1 {
		t.Errorf("download requests after a reuse = %d, want 1", n)
	}
	// A changed byte no longer matches the sidecar: download again.
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Image(ctx, e.opts); err != nil {
		t.Fatalf("Image over a damaged image = %v", err)
	}
	if n := len(e.downloads()); n != 2 {
		t.Errorf("download requests after damage = %d, want 2", n)
	}
	checkImage(t, path, e.images["intel-nuc-5.1.20+rev1.img.gz"])
}

func TestImageChecksFreeSpace(t *testing.T) {
	e := newEnv(t, nil)
	e.opts.MinFree = 1 << 62
	_, _, err := Image(context.Background(), e.opts)
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Image with MinFree 4 EiB = %v, want ErrNoSpace", err)
	}
	assertNoImage(t, e.opts.WorkDir)
}

func TestImageBadSpec(t *testing.T) {
	e := newEnv(t, nil)
	e.opts.Version = ">=1"
	if _, _, err := Image(context.Background(), e.opts); err == nil ||
		exitcode.Of(err) != exitcode.Fetch {
		t.Errorf("Image(spec >=1) = %v, want an error tagged fetch", err)
	}
	if n := len(e.downloads()); n != 0 {
		t.Errorf("download requests = %d, want 0", n)
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{attempt: 0, want: time.Second},
		{attempt: 1, want: 2 * time.Second},
		{attempt: 3, want: 8 * time.Second},
		{attempt: 30, want: maxBackoff},
	}
	for _, tt := range tests {
		if got := backoff(time.Second, tt.attempt); got != tt.want {
			t.Errorf("backoff(1s, %d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
}

func TestImageRestartsStalePart(t *testing.T) {
	e := newEnv(t, nil)
	path := filepath.Join(e.opts.WorkDir, FileName("intel-nuc", "5.1.20+rev1"))
	stale := bytes.Repeat([]byte{0xAA}, imageSize*2) // longer than the image: 416
	if err := os.WriteFile(path+".part", stale, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Image(context.Background(), e.opts); err != nil {
		t.Fatalf("Image over a stale .part, no retries = %v", err)
	}
	checkImage(t, path, e.images["intel-nuc-5.1.20+rev1.img.gz"])
	d := e.downloads()
	if len(d) != 2 || d[0].Status != 416 || d[1].Range != "" {
		t.Errorf("download requests = %+v, want a 416 then a plain request", d)
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "503", err: &balenaapi.StatusError{Status: 503}, want: true},
		{name: "404", err: &balenaapi.StatusError{Status: 404}},
		{name: "401", err: &balenaapi.StatusError{Status: 401}},
		{name: "html", err: fmt.Errorf("x: %w", balenaapi.ErrNotImage)},
		{name: "no space", err: fmt.Errorf("x: %w", ErrNoSpace)},
		{name: "short body", err: fmt.Errorf("x: %w", io.ErrUnexpectedEOF), want: true},
		{name: "stalled", err: fmt.Errorf("x: %w", balenaapi.ErrStalled), want: true},
		{name: "body read", err: &bodyError{err: errors.New("stream reset")}, want: true},
		{name: "dial", err: &url.Error{Op: "Post", URL: "u", Err: syscall.ECONNREFUSED},
			want: true},
		{name: "disk write", err: &os.PathError{Op: "write", Path: "p", Err: syscall.EIO}},
	}
	for _, tt := range tests {
		if got := retryable(tt.err); got != tt.want {
			t.Errorf("%s: retryable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

// BenchmarkImage measures a whole fetch of a 16 MiB image from the fake.
func BenchmarkImage(b *testing.B) {
	dir := b.TempDir()
	raw := make([]byte, 16<<20)
	rand.New(rand.NewSource(1)).Read(raw)
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.NoCompression)
	zw.Write(raw)
	zw.Close()
	name := filepath.Join(dir, "raspberrypi3-2.0.0.img.gz")
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	fake, err := fakeapi.New(fakeapi.Options{ImagesDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer fake.Close()
	url, err := fake.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	client, err := balenaapi.New(balenaapi.Options{Endpoint: url})
	if err != nil {
		b.Fatal(err)
	}
	log, _ := test.NewNullLogger()
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		work := b.TempDir()
		o := Options{Client: client, DeviceType: "raspberrypi3", WorkDir: work, Log: log}
		if _, _, err := Image(context.Background(), o); err != nil {
			b.Fatal(err)
		}
	}
}

func TestImageInterrupted(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.SetFault(fakeapi.Fault{Rate: 64 << 10}) // about 4 s for the image
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	e.opts.Retries = 3
	_, _, err := Image(ctx, e.opts)
	if exitcode.Of(err) != exitcode.Interrupted {
		t.Fatalf("Image cancelled mid-download = %v (code %v), want interrupted", err,
			exitcode.Of(err))
	}
	assertNoImage(t, e.opts.WorkDir)
	if n := len(e.downloads()); n != 1 {
		t.Errorf("download requests = %d, want 1 (no retry after cancel)", n)
	}
}
