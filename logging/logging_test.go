package logging

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

func TestParseLevel(t *testing.T) {
	for _, l := range Levels {
		if _, err := ParseLevel(l); err != nil {
			t.Errorf("ParseLevel(%q) = %v", l, err)
		}
	}
	if _, err := ParseLevel("loud"); err == nil || !strings.Contains(err.Error(), "error, warn, info, debug, trace") {
		t.Errorf("ParseLevel(loud) = %v, want an error listing the levels", err)
	}
}

func TestRedactsConsoleAndFile(t *testing.T) {
	var console bytes.Buffer
	file := filepath.Join(t.TempDir(), "stage1.log")
	l, err := New(Options{Level: logrus.DebugLevel, Console: &console, File: file})
	if err != nil {
		t.Fatal(err)
	}
	l.Redactor.Add("s3cr3tkey", "")
	l.WithField("header", "Bearer s3cr3tkey").Info("calling api")
	l.Debug("debug line")
	l.Trace("trace line is below the level")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(file)
	for name, out := range map[string]string{"console": console.String(), "file": string(data)} {
		if strings.Contains(out, "s3cr3tkey") {
			t.Errorf("%s log leaks the secret: %q", name, out)
		}
		if !strings.Contains(out, "<redacted>") || !strings.Contains(out, "debug line") {
			t.Errorf("%s log = %q, want redacted field and debug line", name, out)
		}
		if strings.Contains(out, "trace line") {
			t.Errorf("%s log has a line below its level", name)
		}
	}
	if !strings.HasPrefix(console.String(), "calling api header=") {
		t.Errorf("console line = %q, want the short form", console.String())
	}
}
