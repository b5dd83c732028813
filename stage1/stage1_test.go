package stage1

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/takeover-dev/takeover/configjson"
	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/initramfs"
	"github.com/takeover-dev/takeover/internal/testimage"
	"github.com/takeover-dev/takeover/plan"
)

func testImage() *plan.Image {
	return &plan.Image{Path: "/work/balena.img.gz", Partitions: []plan.Partition{
		{Name: "resin-boot", Number: 1}, {Name: "resin-data", Number: 6}}}
}

func TestPayloadPlanFiles(t *testing.T) {
	o := Defaults()
	o.S2LogLevel = "debug"
	o.Pretend = true
	cfg, err := configjson.Parse([]byte(`{"apiEndpoint":"http://api","uuid":"abc"}`))
	if err != nil {
		t.Fatal(err)
	}
	p := payloadPlan(o, cfg, testImage(), []string{"/stage/system-connections/resin-wifi-01"}, true)
	want := []plan.File{
		{Source: plan.ConfigJSONPath, Partition: "resin-boot", Target: "/config.json", Mode: 0o600},
		{Source: plan.ConnectionsDir + "/resin-wifi-01", Partition: "resin-boot",
			Target: "/system-connections/resin-wifi-01", Mode: 0o600},
		{Source: plan.BackupPath, Partition: "resin-data", Target: "/backup.tgz", Mode: 0o600},
	}
	if len(p.Files) != len(want) {
		t.Fatalf("payloadPlan() files = %+v, want %+v", p.Files, want)
	}
	for i := range want {
		if p.Files[i] != want[i] {
			t.Errorf("payloadPlan() file %d = %+v, want %+v", i, p.Files[i], want[i])
		}
	}
	if p.Image.Path != plan.ImageDir+"/balena.img.gz" || !p.Options.Pretend || p.Log.Level != "debug" ||
		p.Options.UUID != "abc" || !p.Options.EFISetup {
		t.Errorf("payloadPlan() = %+v", p)
	}
}

func TestPayloadPlanBalenaNames(t *testing.T) {
	img := &plan.Image{Path: "/x", Partitions: []plan.Partition{{Name: "balena-boot"}, {Name: "balena-data"}}}
	cfg, _ := configjson.Parse([]byte(`{}`))
	p := payloadPlan(Defaults(), cfg, img, nil, true)
	if p.Files[0].Partition != "balena-boot" || p.Files[1].Partition != "balena-data" {
		t.Errorf("payloadPlan() partitions = %+v, want balena-boot and balena-data", p.Files)
	}
}

func TestCheckELF(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	other := elf.EM_AARCH64
	if runtime.GOARCH == "arm64" {
		other = elf.EM_X86_64
	}
	if err := checkELF(self, other); err == nil || !strings.Contains(err.Error(), "built for") {
		t.Errorf("checkELF(self, %v) = %v, want a wrong-architecture error", other, err)
	}
	if err := checkELF("stage1_test.go", elf.EM_X86_64); err == nil {
		t.Errorf("checkELF(a Go source file) = nil, want error")
	}
	o := Defaults()
	o.Arch = "mips"
	if _, err := stage2Binary(o); err == nil || !strings.Contains(err.Error(), "not one of") {
		t.Errorf("stage2Binary(mips) = %v, want an unknown-architecture error", err)
	}
	o.Arch = "arm64"
	o.Stage2Binary = filepath.Join(t.TempDir(), "missing")
	if _, err := stage2Binary(o); err == nil || !strings.Contains(err.Error(), "--stage2-binary") {
		t.Errorf("stage2Binary(missing) = %v, want an error naming --stage2-binary", err)
	}
}

func TestConfirm(t *testing.T) {
	disk := plan.DiskIdentity{Name: "vda", Size: 1 << 30}
	tests := []struct {
		name  string
		o     Options
		input string
		ok    bool
	}{
		{name: "no-ack", o: Options{NoAck: true}, ok: true},
		{name: "typed the disk", input: "vda\n", ok: true},
		{name: "typed yes", input: "y\n"},
		{name: "empty", input: "\n"},
		{name: "eof", input: ""},
	}
	for _, tt := range tests {
		err := confirm(tt.o, disk, strings.NewReader(tt.input), io.Discard)
		if (err == nil) != tt.ok {
			t.Errorf("%s: confirm(%q) = %v, want ok=%v", tt.name, tt.input, err, tt.ok)
		}
		if err != nil && exitcode.Of(err) != exitcode.Interrupted {
			t.Errorf("%s: exit code = %v, want interrupted", tt.name, exitcode.Of(err))
		}
	}
}

// TestBuildInitrd builds a payload archive from a synthetic balenaOS image
// and reads it back: the plan must describe the image it carries, and
// config.json must carry the hostname and keep its secrets.
func TestBuildInitrd(t *testing.T) {
	if missing := testimage.MissingTools(); len(missing) > 0 {
		t.Skipf("image tools missing: %v", missing)
	}
	const busybox = "/bin/busybox" // any static amd64 ELF stands in for the stage2 binary
	if runtime.GOARCH != "amd64" || checkELF(busybox, elf.EM_X86_64) != nil {
		t.Skip("needs a static amd64 /bin/busybox to stand in for the stage2 binary")
	}
	dir := t.TempDir()
	img, err := testimage.Build(dir, testimage.Options{Table: "mbr", Gzip: true, Marker: "t"})
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.json")
	cfgText := `{"applicationId":1,"deviceType":"genericx86-64-ext","apiEndpoint":"http://x","apiKey":"k3y-s3cret"}`
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	o := Defaults()
	o.Config, o.Image, o.WorkDir = cfgPath, img, dir
	o.Output = filepath.Join(dir, "payload.cpio")
	o.Hostname, o.NoNwmgrCheck, o.Stage2Binary, o.LogLevel = "field-unit-7", true, busybox, "error"

	if err := BuildInitrd(context.Background(), o); err != nil {
		t.Fatalf("BuildInitrd() = %v", err)
	}

	f, err := os.Open(o.Output)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	l, err := initramfs.Inspect(f, st.Size())
	if err != nil {
		t.Fatalf("Inspect() = %v", err)
	}
	if l.Payload == nil || l.Payload.Image.Table != "mbr" || l.Payload.Image.RawSize <= 0 {
		t.Fatalf("payload plan = %+v", l.Payload)
	}
	m, ok := l.Find(l.Payload.Image.Path)
	if !ok || m.Size != l.Payload.Image.Size {
		t.Errorf("image member %s = %+v, %v; want size %d", l.Payload.Image.Path, m, ok, l.Payload.Image.Size)
	}
	r, err := initramfs.Extract(f, st.Size(), plan.ConfigJSONPath)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	if !bytes.Contains(got, []byte(`"hostname":"field-unit-7"`)) || !bytes.Contains(got, []byte("k3y-s3cret")) {
		t.Errorf("config.json in the archive = %s, want hostname and the api key kept", got)
	}
	if cm, _ := l.Find(plan.ConfigJSONPath); cm.Mode.Perm() != 0o600 {
		t.Errorf("config.json mode = %v, want 0600", cm.Mode.Perm())
	}
	if _, err := os.Stat(o.Output + ".part"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.part left behind: %v", o.Output, err)
	}
}

func TestBuildInitrdRefusesFlasher(t *testing.T) {
	if missing := testimage.MissingTools(); len(missing) > 0 {
		t.Skipf("image tools missing: %v", missing)
	}
	dir := t.TempDir()
	img, err := testimage.Build(dir, testimage.Options{Table: "mbr", Flasher: true})
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.json")
	os.WriteFile(cfgPath, []byte(`{"applicationId":1,"deviceType":"x","apiEndpoint":"http://x"}`), 0o600)
	o := Defaults()
	o.Config, o.Image, o.WorkDir, o.Output, o.LogLevel = cfgPath, img, dir, filepath.Join(dir, "p.cpio"), "error"
	err = BuildInitrd(context.Background(), o)
	if exitcode.Of(err) != exitcode.Fetch || !strings.Contains(err.Error(), "flasher") {
		t.Errorf("BuildInitrd(flasher image) = %v, want a fetch error naming the flasher", err)
	}
	if _, err := os.Stat(o.Output); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output written despite refusal: %v", err)
	}
}

func TestBuildInitrdLeavesNoStagedSecrets(t *testing.T) {
	if missing := testimage.MissingTools(); len(missing) > 0 {
		t.Skipf("image tools missing: %v", missing)
	}
	if checkELF("/bin/busybox", elf.EM_X86_64) != nil || runtime.GOARCH != "amd64" {
		t.Skip("needs a static amd64 /bin/busybox to stand in for the stage2 binary")
	}
	dir := t.TempDir()
	img, err := testimage.Build(dir, testimage.Options{Table: "gpt", Gzip: true})
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.json")
	os.WriteFile(cfgPath, []byte(`{"applicationId":1,"deviceType":"x","apiEndpoint":"http://x","apiKey":"k"}`), 0o600)
	work := t.TempDir()
	o := Defaults()
	o.Config, o.Image, o.WorkDir, o.Output = cfgPath, img, work, filepath.Join(dir, "p.cpio")
	o.NoNwmgrCheck, o.Stage2Binary, o.LogLevel = true, "/bin/busybox", "error"
	if err := BuildInitrd(context.Background(), o); err != nil {
		t.Fatalf("BuildInitrd() = %v", err)
	}
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Errorf("work dir keeps %s after build-initrd, want nothing (it held a copy of config.json)", entries[0].Name())
	}
	// Without any network configuration the run fails while staging, and
	// the half-staged copy of config.json must go too.
	o.NoNwmgrCheck = false
	if err := BuildInitrd(context.Background(), o); err == nil {
		t.Fatalf("BuildInitrd(no network, no --no-nwmgr-check) = nil, want error")
	}
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Errorf("work dir keeps %s after a failed build-initrd", entries[0].Name())
	}
}

// TestBuildInitrdRefusesWifi: build-initrd reads no Wi-Fi settings of the
// machine it runs on, so --wifi would be accepted and then do nothing; it
// must be refused before any work, naming --nwmgr-cfg.
func TestBuildInitrdRefusesWifi(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.json")
	cfgText := `{"applicationId":1,"deviceType":"x","apiEndpoint":"http://127.0.0.1:1","apiKey":"k"}`
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "not-an-image.img")
	if err := os.WriteFile(img, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	o := Defaults()
	o.Config, o.Image, o.WorkDir, o.LogLevel = cfgPath, img, dir, "error"
	o.Output, o.NoNwmgrCheck = filepath.Join(dir, "p.cpio"), true
	o.Wifis = []string{"HomeNet"}
	err := BuildInitrd(context.Background(), o)
	if exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "--nwmgr-cfg") {
		t.Errorf("BuildInitrd(--wifi HomeNet) = %v (exit %v), want a usage error naming --nwmgr-cfg",
			err, exitcode.Of(err))
	}
	if _, err := os.Stat(o.Output); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output written despite refusal: %v", err)
	}
}
