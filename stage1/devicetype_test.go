package stage1

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/takeover-dev/takeover/configjson"
	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/fakeapi"
	"github.com/takeover-dev/takeover/internal/testimage"
)

func startFake(t *testing.T) (*fakeapi.Server, string) {
	t.Helper()
	srv, err := fakeapi.New(fakeapi.Options{ImagesDir: t.TempDir(), APIKey: "dt-key-1"})
	if err != nil {
		t.Fatal(err)
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, url
}

func quietLog() logrus.FieldLogger {
	l := logrus.New()
	l.SetLevel(logrus.ErrorLevel)
	return l
}

func TestDeviceTypeChangeRefusals(t *testing.T) {
	_, url := startFake(t)
	tests := []struct {
		name string
		cfg  string
		slug string
		want exitcode.Code
	}{
		{name: "no uuid", cfg: `{"apiEndpoint":"` + url + `","apiKey":"dt-key-1"}`, slug: "generic-amd64",
			want: exitcode.Config},
		{name: "unknown slug", cfg: `{"apiEndpoint":"` + url + `","apiKey":"dt-key-1","uuid":"0123456789abcdef0123456789abcdef"}`,
			slug: "no-such-board", want: exitcode.Preflight},
	}
	for _, tt := range tests {
		cfg, err := configjson.Parse([]byte(tt.cfg))
		if err != nil {
			t.Fatal(err)
		}
		_, err = newDeviceTypeChange(context.Background(), cfg, tt.slug, quietLog())
		if got := exitcode.Of(err); got != tt.want {
			t.Errorf("%s: newDeviceTypeChange() = %v (%v), want %v", tt.name, got, err, tt.want)
		}
	}
}

// TestBootChangesDeviceTypeFromPayload builds a payload with --change-dt-to
// and checks that boot's pre-jump step PATCHes the device with the new
// type's id, using the config.json carried in the archive.
func TestBootChangesDeviceTypeFromPayload(t *testing.T) {
	if missing := testimage.MissingTools(); len(missing) > 0 {
		t.Skipf("image tools missing: %v", missing)
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs a static /bin/busybox to stand in for the stage2 binary")
	}
	srv, url := startFake(t)
	dir := t.TempDir()
	img, err := testimage.Build(dir, testimage.Options{Table: "mbr", Gzip: true, DeviceType: "generic-amd64"})
	if err != nil {
		t.Fatal(err)
	}
	const uuid = "0123456789abcdef0123456789abcdef"
	cfgPath := filepath.Join(dir, "config.json")
	os.WriteFile(cfgPath, []byte(`{"applicationId":1,"deviceType":"intel-nuc","apiEndpoint":"`+url+
		`","apiKey":"dt-key-1","uuid":"`+uuid+`"}`), 0o600)
	o := Defaults()
	o.Config, o.Image, o.WorkDir, o.Output = cfgPath, img, dir, filepath.Join(dir, "payload.cpio")
	o.NoNwmgrCheck, o.Stage2Binary, o.LogLevel, o.ChangeDTTo = true, "/bin/busybox", "error", "generic-amd64"
	if err := BuildInitrd(context.Background(), o); err != nil {
		t.Fatalf("BuildInitrd(--change-dt-to) = %v", err)
	}

	payload, err := openPayload(o.Output)
	if err != nil {
		t.Fatalf("openPayload() = %v", err)
	}
	defer payload.Close()
	change, err := payloadDeviceTypeChange(context.Background(), payload, quietLog())
	if err != nil || change == nil {
		t.Fatalf("payloadDeviceTypeChange() = %v, %v; want a change", change, err)
	}
	if err := change.apply(); err != nil {
		t.Fatalf("apply() = %v", err)
	}
	var patched bool
	for _, r := range srv.Requests() {
		if r.Method == "PATCH" && strings.Contains(r.Path, uuid) {
			patched = true
			if r.Body != `{"is_of__device_type":32}` {
				t.Errorf("PATCH body = %s, want the generic-amd64 id 32", r.Body)
			}
		}
	}
	if !patched {
		t.Errorf("no PATCH of device %s among %d requests", uuid, len(srv.Requests()))
	}

	// A payload from another build is refused: its /init would read a
	// device plan it may not understand.
	defer func(v string) { ToolVersion = v }(ToolVersion)
	ToolVersion = "takeover v99"
	if _, err := openPayload(o.Output); err == nil || exitcode.Of(err) != exitcode.Initramfs {
		t.Errorf("openPayload(payload of another build) = %v, want an initramfs error", err)
	}
}
