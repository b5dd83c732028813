package testimage

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

func needTools(t *testing.T, extra ...string) {
	t.Helper()
	missing := MissingTools()
	for _, tool := range extra {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		t.Skipf("needs %s", strings.Join(missing, ", "))
	}
}

func output(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

func TestBootPartitionContents(t *testing.T) {
	needTools(t, "mtype")
	tests := []struct {
		name          string
		opts          Options
		wantOSRelease bool
		wantFlag      string
	}{
		{name: "mbr", opts: Options{Table: "mbr", DeviceType: "raspberrypi4-64"},
			wantOSRelease: true, wantFlag: "balena-image"},
		{name: "gpt flasher", opts: Options{Table: "gpt", Flasher: true},
			wantFlag: "balena-image-flasher"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, err := Build(t.TempDir(), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			boot := fmt.Sprintf("%s@@%d", path, 1<<20)
			out, err := output(t, "mtype", "-i", boot, "::/config.json")
			if err != nil {
				t.Fatalf("mtype config.json: %v\n%s", err, out)
			}
			var config map[string]any
			if err := json.Unmarshal([]byte(out), &config); err != nil {
				t.Fatalf("config.json %q: %v", out, err)
			}
			o, _ := tt.opts.withDefaults()
			if config["deviceType"] != o.DeviceType || config["persistentLogging"] != false {
				t.Errorf("config.json = %v, want deviceType %s, persistentLogging false",
					config, o.DeviceType)
			}
			_, err = output(t, "mtype", "-i", boot, "::/os-release")
			if (err == nil) != tt.wantOSRelease {
				t.Errorf("os-release present = %v, want %v", err == nil, tt.wantOSRelease)
			}
			for _, f := range []string{tt.wantFlag, "device-type.json",
				"system-connections/README.ignore", "system-proxy/README.ignore"} {
				if out, err := output(t, "mtype", "-i", boot, "::/"+f); err != nil {
					t.Errorf("boot:/%s missing: %v %s", f, err, out)
				}
			}
		})
	}
}

func TestBusyboxRootA(t *testing.T) {
	needTools(t, "debugfs", "busybox")
	bb, _ := exec.LookPath("busybox")
	o := Options{Marker: "m-42", Busybox: bb}
	path, err := Build(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := Layout(o)
	if err != nil {
		t.Fatal(err)
	}
	// debugfs takes no offset: read rootA out of the image.
	img := t.TempDir() + "/rootA.img"
	if out, err := output(t, "dd", "if="+path, "of="+img, "bs=1M",
		fmt.Sprintf("skip=%d", parts[1].Start>>20), fmt.Sprintf("count=%d", parts[1].Size>>20),
		"status=none"); err != nil {
		t.Fatalf("dd: %v %s", err, out)
	}
	out, err := output(t, "debugfs", "-R", "cat /sbin/init", img)
	if err != nil || !strings.Contains(out, "SYNTHETIC-BALENAOS-BOOTED marker=m-42") ||
		!strings.Contains(out, "LABEL=$label") || !strings.Contains(out, "poweroff -f") {
		t.Errorf("rootA:/sbin/init = %v\n%s\nwant the marker line, the boot lookup, poweroff", err, out)
	}
	out, err = output(t, "debugfs", "-R", "stat /bin/sh", img)
	if err != nil || !strings.Contains(out, "Type: symlink") {
		t.Errorf("rootA:/bin/sh = %v\n%s\nwant a symlink to busybox", err, out)
	}
}

func TestLayoutRefusals(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{name: "table", opts: Options{Table: "apm"}},
		{name: "too small", opts: Options{Size: 32 << 20}},
		{name: "not whole MiB", opts: Options{Size: 64<<20 + 1}},
		{name: "marker with a quote", opts: Options{Marker: `a"b`}},
		{name: "filler too big", opts: Options{DataFill: 60 << 20}},
	}
	for _, tt := range tests {
		if _, err := Layout(tt.opts); err == nil {
			t.Errorf("Layout(%s) = nil error, want a refusal", tt.name)
		}
	}
}
