package balenaapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/takeover-dev/takeover/balenaapi"
	"github.com/takeover-dev/takeover/fakeapi"
)

const testKey = "s3cr3t-api-key"

// gzipImage writes a gzip file of n pseudo-random bytes and returns its bytes.
func gzipImage(t *testing.T, path string, n int, seed int64) []byte {
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

type env struct {
	fake   *fakeapi.Server
	client *balenaapi.Client
	url    string
	images map[string][]byte
}

func newEnv(t *testing.T, o fakeapi.Options, co balenaapi.Options) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{images: map[string][]byte{}}
	for i, name := range []string{"intel-nuc-5.1.20+rev1.img.gz", "intel-nuc-5.1.20.img.gz",
		"raspberrypi3-2.0.0.img.gz"} {
		e.images[name] = gzipImage(t, filepath.Join(dir, name), 100<<10, int64(i))
	}
	o.ImagesDir = dir
	if o.APIKey == "" {
		o.APIKey = testKey
	}
	fake, err := fakeapi.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fake.Close() })
	e.fake = fake
	if e.url, err = fake.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	co.Endpoint = e.url
	if co.APIKey == "" {
		co.APIKey = testKey
	}
	if co.Timeout == 0 {
		co.Timeout = 5 * time.Second
	}
	if e.client, err = balenaapi.New(co); err != nil {
		t.Fatal(err)
	}
	return e
}

func lastRequest(t *testing.T, f *fakeapi.Server) fakeapi.Request {
	t.Helper()
	reqs := f.Requests()
	if len(reqs) == 0 {
		t.Fatal("fake api saw no request")
	}
	return reqs[len(reqs)-1]
}

func TestPingSendsNoKey(t *testing.T) {
	e := newEnv(t, fakeapi.Options{}, balenaapi.Options{})
	if err := e.client.Ping(context.Background()); err != nil {
		t.Fatalf("Ping() = %v, want nil", err)
	}
	if r := lastRequest(t, e.fake); r.Path != "/ping" || r.Auth != "" {
		t.Errorf("ping request = %s auth %q, want /ping without auth", r.Path, r.Auth)
	}
}

func TestPingWantsOK(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		ok     bool
	}{
		{name: "ok", status: 200, body: "OK\n", ok: true},
		{name: "other body", status: 200, body: "<html>portal</html>"},
		{name: "server error", status: 500, body: "OK"},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tt.status)
			io.WriteString(w, tt.body)
		}))
		c, err := balenaapi.New(balenaapi.Options{Endpoint: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Ping(context.Background())
		if (err == nil) != tt.ok {
			t.Errorf("%s: Ping() = %v, want ok %v", tt.name, err, tt.ok)
		}
		srv.Close()
	}
}

func TestOSVersionsQueryAndAuth(t *testing.T) {
	e := newEnv(t, fakeapi.Options{Versions: map[string][]string{"intel-nuc": {"junk"}}},
		balenaapi.Options{})
	got, err := e.client.OSVersions(context.Background(), "intel-nuc")
	if err != nil {
		t.Fatalf("OSVersions(intel-nuc) = %v", err)
	}
	want := map[string]bool{"5.1.20+rev1": true, "5.1.20": true, "junk": true}
	if len(got) != len(want) {
		t.Errorf("OSVersions(intel-nuc) = %q, want the %d of %v", got, len(want), want)
	}
	for _, v := range got {
		if !want[v] {
			t.Errorf("OSVersions(intel-nuc) = %q, has unexpected %q", got, v)
		}
	}
	r := lastRequest(t, e.fake)
	wantQuery := "$select=raw_version&$filter=(is_final%20eq%20true)%20and%20(is_passing_tests" +
		"%20eq%20true)%20and%20(is_invalidated%20eq%20false)%20and%20(status%20eq%20%27success" +
		"%27)%20and%20(belongs_to__application/any(bta:((bta/is_host%20eq%20true)%20and%20(bta" +
		"/is_for__device_type/any(iodt:iodt/slug%20eq%20%27intel-nuc%27)))%20and%20(not(bta/app" +
		"lication_tag/any(at:at/tag_key%20eq%20%27release-policy%27))%20or%20(bta/application_t" +
		"ag/any(at:(at/tag_key%20eq%20%27release-policy%27)%20and%20(at/value%20eq%20%27default" +
		"%27))))))&$orderby=created_at%20desc"
	if r.RawQuery != wantQuery {
		t.Errorf("release query =\n%s\nwant\n%s", r.RawQuery, wantQuery)
	}
	if r.Auth != "Bearer "+testKey {
		t.Errorf("release auth = %q, want Bearer key", r.Auth)
	}
}

func TestWrongKeyIsRefusedAndNotShown(t *testing.T) {
	e := newEnv(t, fakeapi.Options{}, balenaapi.Options{APIKey: "wrong-key-value"})
	_, err := e.client.OSVersions(context.Background(), "intel-nuc")
	var se *balenaapi.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusUnauthorized {
		t.Fatalf("OSVersions with a wrong key = %v, want a 401 StatusError", err)
	}
	if strings.Contains(err.Error(), "wrong-key-value") {
		t.Errorf("error %q shows the api key", err)
	}
}

func TestBadSlugIsRefused(t *testing.T) {
	e := newEnv(t, fakeapi.Options{}, balenaapi.Options{})
	for _, slug := range []string{"", "intel-nuc') or (1 eq 1", "Intel-NUC", "a/b"} {
		if _, err := e.client.OSVersions(context.Background(), slug); err == nil {
			t.Errorf("OSVersions(%q) = nil error, want a refusal", slug)
		}
	}
	if n := len(e.fake.Requests()); n != 0 {
		t.Errorf("bad slugs reached the api %d times, want 0", n)
	}
}

func TestIsFlasher(t *testing.T) {
	e := newEnv(t, fakeapi.Options{}, balenaapi.Options{})
	tests := []struct {
		slug string
		want bool
	}{
		{slug: "intel-nuc", want: true},
		{slug: "nuc", want: true},
		{slug: "genericx86-64-ext", want: true},
		{slug: "generic-amd64", want: true},
		{slug: "beaglebone-black", want: true},
		{slug: "raspberrypi3", want: false},
		{slug: "raspberrypi4-64", want: false},
		{slug: "jetson-xavier", want: false},
	}
	for _, tt := range tests {
		got, err := e.client.IsFlasher(context.Background(), tt.slug)
		if err != nil || got != tt.want {
			t.Errorf("IsFlasher(%s) = %v, %v, want %v", tt.slug, got, err, tt.want)
		}
	}
	if _, err := e.client.IsFlasher(context.Background(), "no-such-board"); !errors.Is(err,
		balenaapi.ErrNotFound) {
		t.Errorf("IsFlasher(no-such-board) = %v, want ErrNotFound", err)
	}
}

func TestContractNeedsDefaultBoot(t *testing.T) {
	var c balenaapi.Contract
	if err := json.Unmarshal([]byte(`{"data":{"media":{"altBoot":["usb"]}}}`), &c); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Flasher(); err == nil {
		t.Errorf("Flasher() of a contract without defaultBoot = nil error, want one")
	}
}

func TestDeviceTypeIDAndPatch(t *testing.T) {
	e := newEnv(t, fakeapi.Options{}, balenaapi.Options{})
	ctx := context.Background()
	id, err := e.client.DeviceTypeID(ctx, "raspberrypi3")
	if err != nil || id != 24 {
		t.Errorf("DeviceTypeID(raspberrypi3) = %d, %v, want 24", id, err)
	}
	uuid := strings.Repeat("ab", 16)
	if err := e.client.PatchDevice(ctx, uuid, map[string]any{"is_of__device_type": id}); err != nil {
		t.Fatalf("PatchDevice = %v", err)
	}
	r := lastRequest(t, e.fake)
	if r.Method != "PATCH" || r.Path != "/v6/device(uuid='"+uuid+"')" ||
		r.Body != `{"is_of__device_type":24}` {
		t.Errorf("patch request = %s %s %s", r.Method, r.Path, r.Body)
	}
	if err := e.client.PatchDevice(ctx, "not-a-uuid", map[string]any{"a": 1}); err == nil {
		t.Errorf("PatchDevice(not-a-uuid) = nil, want an error")
	}
}

func TestDownloadBody(t *testing.T) {
	e := newEnv(t, fakeapi.Options{}, balenaapi.Options{})
	tests := []struct {
		req      balenaapi.DownloadRequest
		wantBody string
		file     string
	}{
		{req: balenaapi.DownloadRequest{DeviceType: "intel-nuc", Version: "5.1.20+rev1", Raw: true},
			wantBody: `{"deviceType":"intel-nuc","version":"5.1.20+rev1","fileType":".gz",` +
				`"imageType":"raw"}`,
			file: "intel-nuc-5.1.20+rev1.img.gz"},
		{req: balenaapi.DownloadRequest{DeviceType: "raspberrypi3", Version: "2.0.0"},
			wantBody: `{"deviceType":"raspberrypi3","version":"2.0.0","fileType":".gz",` +
				`"imageType":null}`,
			file: "raspberrypi3-2.0.0.img.gz"},
	}
	for _, tt := range tests {
		d, err := e.client.Download(context.Background(), tt.req, 0)
		if err != nil {
			t.Fatalf("Download(%+v) = %v", tt.req, err)
		}
		got, err := io.ReadAll(d.Body)
		d.Body.Close()
		if err != nil || !bytes.Equal(got, e.images[tt.file]) {
			t.Errorf("Download(%+v) body: %d bytes, %v, want %s", tt.req, len(got), err, tt.file)
		}
		if d.Size != int64(len(e.images[tt.file])) || d.Offset != 0 {
			t.Errorf("Download(%+v) = size %d offset %d", tt.req, d.Size, d.Offset)
		}
		if r := lastRequest(t, e.fake); r.Body != tt.wantBody || r.Auth != "Bearer "+testKey {
			t.Errorf("download request body %s auth %q, want %s", r.Body, r.Auth, tt.wantBody)
		}
	}
}

func TestDownloadRange(t *testing.T) {
	e := newEnv(t, fakeapi.Options{}, balenaapi.Options{})
	req := balenaapi.DownloadRequest{DeviceType: "raspberrypi3", Version: "2.0.0"}
	full := e.images["raspberrypi3-2.0.0.img.gz"]
	tests := []struct {
		name       string
		fault      fakeapi.Fault
		offset     int64
		wantOffset int64
	}{
		{name: "resumed", offset: 1000, wantOffset: 1000},
		{name: "range ignored", fault: fakeapi.Fault{NoRange: true}, offset: 1000, wantOffset: 0},
	}
	for _, tt := range tests {
		e.fake.SetFault(tt.fault)
		d, err := e.client.Download(context.Background(), req, tt.offset)
		if err != nil {
			t.Fatalf("%s: Download(offset %d) = %v", tt.name, tt.offset, err)
		}
		got, err := io.ReadAll(d.Body)
		d.Body.Close()
		if err != nil || d.Offset != tt.wantOffset || !bytes.Equal(got, full[d.Offset:]) ||
			d.Size != int64(len(full)) {
			t.Errorf("%s: Download(offset %d) = offset %d size %d, %d bytes, %v; want offset %d",
				tt.name, tt.offset, d.Offset, d.Size, len(got), err, tt.wantOffset)
		}
		if r := lastRequest(t, e.fake); r.Range != "bytes=1000-" {
			t.Errorf("%s: Range header %q, want bytes=1000-", tt.name, r.Range)
		}
	}
	e.fake.SetFault(fakeapi.Fault{})
	_, err := e.client.Download(context.Background(), req, int64(len(full)))
	if !errors.Is(err, balenaapi.ErrBadRange) {
		t.Errorf("Download(offset past the end) = %v, want ErrBadRange", err)
	}
}

func TestDownloadErrors(t *testing.T) {
	e := newEnv(t, fakeapi.Options{Versions: map[string][]string{"raspberrypi3": {"9.9.9"}}},
		balenaapi.Options{Timeout: 300 * time.Millisecond})
	good := balenaapi.DownloadRequest{DeviceType: "raspberrypi3", Version: "2.0.0"}
	tests := []struct {
		name  string
		req   balenaapi.DownloadRequest
		fault fakeapi.Fault
		check func(error) bool
	}{
		{name: "404 listed without a file",
			req:   balenaapi.DownloadRequest{DeviceType: "raspberrypi3", Version: "9.9.9"},
			check: func(err error) bool { return errors.Is(err, balenaapi.ErrNotFound) }},
		{name: "flasher without raw", // the fake has no flasher image
			req:   balenaapi.DownloadRequest{DeviceType: "intel-nuc", Version: "5.1.20"},
			check: func(err error) bool { return errors.Is(err, balenaapi.ErrNotFound) }},
		{name: "html page with 200", req: good, fault: fakeapi.Fault{HTMLPage: true},
			check: func(err error) bool { return errors.Is(err, balenaapi.ErrNotImage) }},
		{name: "503", req: good, fault: fakeapi.Fault{FailCount: 1},
			check: func(err error) bool {
				var se *balenaapi.StatusError
				return errors.As(err, &se) && se.Status == 503 && se.Temporary()
			}},
		{name: "stalled", req: good, fault: fakeapi.Fault{Rate: 2},
			check: func(err error) bool { return errors.Is(err, balenaapi.ErrStalled) }},
	}
	for _, tt := range tests {
		e.fake.SetFault(tt.fault)
		d, err := e.client.Download(context.Background(), tt.req, 0)
		if err == nil {
			_, err = io.ReadAll(d.Body)
			d.Body.Close()
		}
		if err == nil || !tt.check(err) {
			t.Errorf("%s: Download(%+v) = %v, want the matching error", tt.name, tt.req, err)
		}
		if err != nil && strings.Contains(err.Error(), testKey) {
			t.Errorf("%s: error %q shows the api key", tt.name, err)
		}
	}
}

func TestRootCA(t *testing.T) {
	fake, err := fakeapi.New(fakeapi.Options{TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	url, err := fake.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("TLS fake url = %s, want https", url)
	}
	tests := []struct {
		name   string
		rootCA string
		ok     bool
	}{
		{name: "with balenaRootCA", rootCA: base64.StdEncoding.EncodeToString(fake.CACertPEM()),
			ok: true},
		{name: "without", rootCA: ""},
	}
	for _, tt := range tests {
		c, err := balenaapi.New(balenaapi.Options{Endpoint: url, RootCA: tt.rootCA})
		if err != nil {
			t.Fatalf("%s: New = %v", tt.name, err)
		}
		err = c.Ping(context.Background())
		if (err == nil) != tt.ok {
			t.Errorf("%s: Ping() = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
	if _, err := balenaapi.New(balenaapi.Options{Endpoint: url, RootCA: "bm90IGEgcGVt"}); err == nil {
		t.Errorf("New(RootCA without a PEM) = nil error, want one")
	}
}

func TestNewRefusesBadEndpoints(t *testing.T) {
	bad := []string{"", "api.balena-cloud.com", "ftp://x", "https://u:p@h", "https://h?x=1"}
	for _, ep := range bad {
		if _, err := balenaapi.New(balenaapi.Options{Endpoint: ep}); err == nil {
			t.Errorf("New(Endpoint %q) = nil error, want one", ep)
		}
	}
}

func TestNewRefusesUnverifiedTLS(t *testing.T) {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	if _, err := balenaapi.New(balenaapi.Options{Endpoint: "https://h", Transport: tr}); err == nil {
		t.Errorf("New(transport without tls verification) = nil error, want one")
	}
}
