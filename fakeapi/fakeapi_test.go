package fakeapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestParseImageName(t *testing.T) {
	tests := []struct {
		name string
		want image
		ok   bool
	}{
		{name: "intel-nuc-5.1.20+rev1.img.gz", want: image{slug: "intel-nuc", version: "5.1.20+rev1"},
			ok: true},
		{name: "raspberrypi4-64-6.0.13.img.gz",
			want: image{slug: "raspberrypi4-64", version: "6.0.13"}, ok: true},
		{name: "raspberrypi4-64-6.0.13-rc1+rev2.img.gz",
			want: image{slug: "raspberrypi4-64", version: "6.0.13-rc1+rev2"}, ok: true},
		{name: "generic-amd64-6.8.1.flasher.img.gz",
			want: image{slug: "generic-amd64", version: "6.8.1", flasher: true}, ok: true},
		{name: "intel-nuc.img.gz"},
		{name: "intel-nuc-5.1.img.gz"},
		{name: "intel-nuc-5.1.20.img"},
		{name: "-5.1.20.img.gz"},
	}
	for _, tt := range tests {
		got, ok := parseImageName(tt.name)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("parseImageName(%q) = %+v, %v, want %+v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseImageName(f *testing.F) {
	f.Add("raspberrypi4-64-6.0.13-rc1+rev2.flasher.img.gz")
	f.Fuzz(func(t *testing.T, name string) {
		im, ok := parseImageName(name)
		if !ok {
			return
		}
		suffix := rawSuffix
		if im.flasher {
			suffix = flasherSuffix
		}
		if im.slug == "" || im.slug+"-"+im.version+suffix != name {
			t.Fatalf("parseImageName(%q) = %+v, which does not rebuild the name", name, im)
		}
	})
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		header      string
		first, last int64
		ok          bool
	}{
		{header: "bytes=0-", first: 0, last: 99, ok: true},
		{header: "bytes=10-", first: 10, last: 99, ok: true},
		{header: "bytes=10-19", first: 10, last: 19, ok: true},
		{header: "bytes=10-1000", first: 10, last: 99, ok: true},
		{header: "bytes=100-"},
		{header: "bytes=-10"},
		{header: "bytes=20-10"},
		{header: "bytes=0-1,5-6"},
		{header: "items=0-"},
	}
	for _, tt := range tests {
		first, last, ok := parseRange(tt.header, 100)
		if ok != tt.ok || (ok && (first != tt.first || last != tt.last)) {
			t.Errorf("parseRange(%q, 100) = %d, %d, %v, want %d, %d, %v",
				tt.header, first, last, ok, tt.first, tt.last, tt.ok)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	f.Add("bytes=10-19", int64(100))
	f.Fuzz(func(t *testing.T, h string, size int64) {
		first, last, ok := parseRange(h, size)
		if ok && (first < 0 || last < first || last >= size) {
			t.Fatalf("parseRange(%q, %d) = %d, %d outside the file", h, size, first, last)
		}
	})
}

func TestParseFault(t *testing.T) {
	tests := []struct {
		spec string
		want Fault
		ok   bool
	}{
		{spec: "", ok: true},
		{spec: "fail=2,status=502", want: Fault{FailCount: 2, FailStatus: 502}, ok: true},
		{spec: "cut=65536, cutcount=1,norange",
			want: Fault{CutAfter: 65536, CutCount: 1, NoRange: true}, ok: true},
		{spec: "rate=1024,wrong=/x.img.gz,html",
			want: Fault{Rate: 1024, WrongImage: "/x.img.gz", HTMLPage: true}, ok: true},
		{spec: "fail=x"},
		{spec: "explode"},
	}
	for _, tt := range tests {
		got, err := ParseFault(tt.spec)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseFault(%q) = %+v, %v, want %+v, ok %v", tt.spec, got, err, tt.want, tt.ok)
		}
	}
}

func TestStartRefusesNonLoopback(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "[::]:0", "example.com:80"} {
		if _, err := s.Start(addr); err == nil {
			t.Errorf("Start(%q) = nil error, want a refusal", addr)
		}
		if _, err := s.StartVPN(addr); err == nil {
			t.Errorf("StartVPN(%q) = nil error, want a refusal", addr)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func TestServerRoutes(t *testing.T) {
	dir := t.TempDir()
	img := []byte("\x1f\x8b fake image bytes")
	name := filepath.Join(dir, "raspberrypi3-2.0.0+rev1.img.gz")
	if err := os.WriteFile(name, img, 0o644); err != nil {
		t.Fatal(err)
	}
	var reqLog syncBuffer
	s, err := New(Options{ImagesDir: dir, APIKey: "k", RequestLog: &reqLog})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path, body string
		key                      bool
		status                   int
		want                     string
	}{
		{name: "ping", method: "GET", path: "/ping", status: 200, want: "OK"},
		{name: "no key", method: "GET", path: "/download?deviceType=raspberrypi3", status: 401},
		{name: "get download", method: "GET", key: true, status: 200, want: string(img),
			path: "/download?deviceType=raspberrypi3&version=2.0.0%2Brev1&fileType=.gz"},
		{name: "post download", method: "POST", path: "/download", key: true, status: 200,
			body: `{"deviceType":"raspberrypi3","version":"2.0.0+rev1","fileType":".gz"}`,
			want: string(img)},
		{name: "zip refused", method: "POST", path: "/download", key: true, status: 400,
			body: `{"deviceType":"raspberrypi3","version":"2.0.0+rev1","fileType":".zip"}`},
		{name: "download size", method: "GET", key: true, status: 200,
			path: "/device-types/v1/raspberrypi3/images/2.0.0%2Brev1/download-size",
			want: `{"size":19}` + "\n"},
		{name: "device id", method: "GET", key: true, status: 200, want: `{"d":[{"id":24}]}` + "\n",
			path: "/v6/device_type?$select=id&$filter=device_type_alias/any(dta:dta/" +
				"is_referenced_by__alias%20eq%20%27raspberrypi3%27)"},
		{name: "patch", method: "PATCH", path: "/v6/device(uuid='" + strings.Repeat("0f", 16) + "')",
			key: true, body: `{"status":"configuring"}`, status: 200, want: "OK"},
		{name: "unknown", method: "GET", path: "/v7/application", key: true, status: 404},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, base+tt.path, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		if tt.key {
			req.Header.Set("Authorization", "Bearer k")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || (tt.want != "" && string(got) != tt.want) {
			t.Errorf("%s: %s %s = %d %q, want %d %q", tt.name, tt.method, tt.path,
				resp.StatusCode, got, tt.status, tt.want)
		}
	}
	checkRequestLog(t, reqLog.b.Bytes(), s.Requests())
}

// checkRequestLog asserts the JSON lines match Requests().
func checkRequestLog(t *testing.T, log []byte, want []Request) {
	t.Helper()
	var got []Request
	sc := bufio.NewScanner(bytes.NewReader(log))
	for sc.Scan() {
		var r Request
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("request log line %q: %v", sc.Text(), err)
		}
		got = append(got, r)
	}
	if len(got) != len(want) {
		t.Fatalf("request log has %d lines, Requests() %d", len(got), len(want))
	}
	for i := range got {
		if fmt.Sprint(got[i].Query) != fmt.Sprint(want[i].Query) || got[i].Status != want[i].Status ||
			got[i].Path != want[i].Path || got[i].Auth != want[i].Auth {
			t.Errorf("request log line %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestVPNCountsConnections(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr, err := s.StartVPN("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dialing the vpn stand-in: %v", err)
	}
	io.Copy(io.Discard, c) // returns once the server closed it
	c.Close()
	if n := s.VPNConnections(); n != 1 {
		t.Errorf("VPNConnections() = %d, want 1", n)
	}
}
