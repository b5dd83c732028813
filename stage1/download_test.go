package stage1

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/fakeapi"
	"github.com/takeover-dev/takeover/internal/testimage"
)

// TestDownloadTilde is `takeover download -c config.json -v '~5.1' -w DIR`
// against the fake API: it must choose the newest 5.1.x (build metadata
// breaking the tie), and leave exactly one validated image in DIR.
func TestDownloadTilde(t *testing.T) {
	if missing := testimage.MissingTools(); len(missing) > 0 {
		t.Skipf("image tools missing: %v", missing)
	}
	images := t.TempDir()
	img, err := testimage.Build(t.TempDir(), testimage.Options{Table: "mbr", Gzip: true})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"5.1.20", "5.1.20+rev1", "5.1.3", "5.2.0", "4.0.26+rev"} {
		if err := os.WriteFile(filepath.Join(images, "genericx86-64-ext-"+v+".img.gz"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := fakeapi.New(fakeapi.Options{ImagesDir: images, APIKey: "test-key-1"})
	if err != nil {
		t.Fatal(err)
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	work := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(cfg, []byte(`{"applicationId":7,"deviceType":"genericx86-64-ext","apiEndpoint":"`+url+
		`","apiKey":"test-key-1"}`), 0o600)
	o := Defaults()
	o.Config, o.Version, o.WorkDir, o.LogLevel = cfg, "~5.1", work, "error"

	if err := Download(context.Background(), o); err != nil {
		t.Fatalf("Download(~5.1) = %v", err)
	}

	var got []string
	entries, _ := os.ReadDir(work)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".img.gz") {
			got = append(got, e.Name())
		} else if !strings.HasSuffix(e.Name(), ".sha256") {
			t.Errorf("unexpected file left in the work dir: %s", e.Name())
		}
	}
	want := "balena-cloud-genericx86-64-ext-5.1.20+rev1.img.gz"
	if len(got) != 1 || got[0] != want {
		t.Errorf("work dir images = %v, want exactly [%s]", got, want)
	}
}

func TestDownloadRefusesWrongImage(t *testing.T) {
	images := t.TempDir()
	// A gzip of text is a complete download but not a balenaOS image.
	gz := []byte{0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x03, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}
	os.WriteFile(filepath.Join(images, "genericx86-64-ext-6.0.0.img.gz"), gz, 0o644)
	srv, err := fakeapi.New(fakeapi.Options{ImagesDir: images})
	if err != nil {
		t.Fatal(err)
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(cfg, []byte(`{"applicationId":7,"deviceType":"genericx86-64-ext","apiEndpoint":"`+url+
		`","apiKey":"k"}`), 0o600)
	o := Defaults()
	o.Config, o.WorkDir, o.LogLevel = cfg, t.TempDir(), "error"
	err = Download(context.Background(), o)
	if exitcode.Of(err) != exitcode.Fetch {
		t.Errorf("Download(empty gzip image) = %v, want a fetch error", err)
	}
	if entries, _ := os.ReadDir(o.WorkDir); len(entries) != 0 {
		t.Errorf("refused download left %d files behind, e.g. %s", len(entries), entries[0].Name())
	}
}
