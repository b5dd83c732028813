package stage2init

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoggerWritesConsoleKmsgAndBuffer(t *testing.T) {
	var console, kmsg bytes.Buffer
	l := newLogger(&console, &kmsg)
	l.WithField("disk", "/dev/vda").WithField("bytes", 5).Warn("disk found")
	l.WithError(errors.New("a\nb")).Error("failed")
	l.marker("%s sha256=%s", markerVerified, "ab")

	wantKmsg := "<4>takeover: disk found bytes=5 disk=/dev/vda\n" +
		"<3>takeover: failed error=a | b\n" +
		"<5>takeover: TAKEOVER-STAGE2-VERIFIED sha256=ab\n"
	if kmsg.String() != wantKmsg {
		t.Errorf("kmsg = %q, want %q", kmsg.String(), wantKmsg)
	}
	if !strings.Contains(console.String(), "\nTAKEOVER-STAGE2-VERIFIED sha256=ab\n") {
		t.Errorf("console lacks the marker on a line of its own: %q", console.String())
	}
	if !bytes.Equal(l.contents(), console.Bytes()) {
		t.Errorf("saved log = %q, want what the console got: %q", l.contents(), console.String())
	}
}

func TestClipKeepsKmsgRecordsShort(t *testing.T) {
	if got := clip(strings.Repeat("x", 5000)); len(got) > kmsgMax+3 {
		t.Errorf("clip(5000 bytes) has %d bytes, want at most %d", len(got), kmsgMax+3)
	}
}

func TestMemAvailable(t *testing.T) {
	tests := []struct {
		name    string
		meminfo string
		want    int64
		wantErr bool
	}{
		{name: "normal", meminfo: "MemTotal: 10 kB\nMemAvailable:    2048 kB\n", want: 2 << 20},
		{name: "missing", meminfo: "MemTotal: 10 kB\n", wantErr: true},
		{name: "garbage", meminfo: "MemAvailable: lots\n", wantErr: true},
	}
	for _, tt := range tests {
		p := filepath.Join(t.TempDir(), "meminfo")
		if err := os.WriteFile(p, []byte(tt.meminfo), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := memAvailable(p)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: memAvailable = %d, %v, want %d (error %v)", tt.name, got, err, tt.want,
				tt.wantErr)
		}
	}
}

func FuzzMemAvailable(f *testing.F) {
	f.Add("MemAvailable: 1 kB\n")
	f.Add("MemAvailable:\n")
	f.Fuzz(func(t *testing.T, s string) {
		p := filepath.Join(t.TempDir(), "meminfo")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if n, err := memAvailable(p); err == nil && !strings.Contains(s, "MemAvailable:") {
			t.Errorf("memAvailable(%q) = %d without a MemAvailable line", s, n)
		}
	})
}
