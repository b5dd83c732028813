package progress

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

func TestCounterAndSummary(t *testing.T) {
	var buf bytes.Buffer
	log := logrus.New()
	log.SetOutput(&buf)
	c := &Counter{}
	r := Start(log, c, Options{Phase: "flash", Total: 10, Interval: time.Millisecond})
	if _, err := io.Copy(c, strings.NewReader("0123456789")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	f := r.Stop()
	if f["bytes"] != int64(10) {
		t.Errorf("summary bytes = %v, want 10", f["bytes"])
	}
	out := buf.String()
	if !strings.Contains(out, "phase done") || !strings.Contains(out, "phase=flash") {
		t.Errorf("log lacks summary: %q", out)
	}
	r.Stop() // a second Stop must not panic
}

func TestLine(t *testing.T) {
	got := Line(512<<20, 1024<<20, time.Second)
	want := "512.0/1024.0 MiB 50.0% 512.0 MiB/s"
	if got != want {
		t.Errorf("Line() = %q, want %q", got, want)
	}
	if got := Line(1<<20, 0, 0); got != "1.0 MiB 0.0 MiB/s" {
		t.Errorf("Line(unknown total) = %q", got)
	}
}
