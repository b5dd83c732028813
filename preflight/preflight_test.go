package preflight

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func asRoot(t *testing.T, uid int) {
	t.Helper()
	old := geteuid
	geteuid = func() int { return uid }
	t.Cleanup(func() { geteuid = old })
}

func find(r Report, name string) Check {
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	return Check{Name: name, Status: "missing"}
}

const (
	mi = int64(1) << 20
	gi = int64(1) << 30
)

func TestRun(t *testing.T) {
	tests := []struct {
		name       string
		tree       string
		opts       Options
		uid        int
		want       map[string]Status
		wantDetail map[string]string // substring of a check's detail
		wantFailed bool
	}{
		{
			name: "pi4 bookworm to raspberrypi4-64", tree: "pi4-bookworm",
			opts: Options{DeviceType: "raspberrypi4-64", NoAPICheck: true, NoVPNCheck: true,
				MinMemory: gi, NeedRoot: true},
			want: map[string]Status{"root": StatusOK, "os": StatusOK, "device": StatusOK,
				"api": StatusSkip, "vpn": StatusSkip, "memory": StatusOK, "disk": StatusSkip},
			wantDetail: map[string]string{"os": "Raspberry Pi OS",
				"device": "Raspberry Pi 4 Model B Rev 1.4 (aarch64) takes raspberrypi4-64"},
		},
		{
			name: "pi4 to a raspberrypi3 fleet", tree: "pi4-bookworm",
			opts:       Options{DeviceType: "raspberrypi3", NoAPICheck: true, NoVPNCheck: true},
			want:       map[string]Status{"device": StatusFail},
			wantDetail: map[string]string{"device": "takes device types raspberrypi4-64; config.json has raspberrypi3"},
			wantFailed: true,
		},
		{
			name: "pi4 to a raspberrypi3 fleet with --no-dt-check", tree: "pi4-bookworm",
			opts: Options{DeviceType: "raspberrypi3", NoDTCheck: true, NoAPICheck: true,
				NoVPNCheck: true},
			want:       map[string]Status{"device": StatusWarn},
			wantDetail: map[string]string{"device": "ignored: --no-dt-check"},
		},
		{
			name: "pi4 to an x86 fleet", tree: "pi4-bookworm",
			opts:       Options{DeviceType: "generic-amd64", NoAPICheck: true, NoVPNCheck: true},
			want:       map[string]Status{"device": StatusFail},
			wantFailed: true,
		},
		{
			name: "debian 12 qemu vm to generic-amd64", tree: "debian12-qemu",
			opts: Options{DeviceType: "generic-amd64", NoAPICheck: true, NoVPNCheck: true,
				MinMemory: 300 * mi, TargetDisk: "/dev/vda", TargetDiskSize: 8 * gi,
				ImageRawSize: 1668 * mi},
			want: map[string]Status{"os": StatusOK, "device": StatusOK, "memory": StatusOK,
				"disk": StatusOK},
			wantDetail: map[string]string{"device": "QEMU Standard PC (i440FX + PIIX, 1996)",
				"os": "Debian GNU/Linux 12 (bookworm)"},
		},
		{
			name: "qemu vm, intel-nuc fleet", tree: "debian12-qemu",
			opts: Options{DeviceType: "intel-nuc", NoAPICheck: true, NoVPNCheck: true},
			want: map[string]Status{"device": StatusOK},
		},
		{
			name: "qemu vm to a pi fleet", tree: "debian12-qemu",
			opts:       Options{DeviceType: "raspberrypi4-64", NoAPICheck: true, NoVPNCheck: true},
			want:       map[string]Status{"device": StatusFail},
			wantFailed: true,
		},
		{
			name: "qemu vm short of memory and disk", tree: "debian12-qemu",
			opts: Options{DeviceType: "generic-amd64", NoAPICheck: true, NoVPNCheck: true,
				MinMemory: 512 * mi, TargetDisk: "/dev/vda", TargetDiskSize: gi,
				ImageRawSize: 1668 * mi},
			want:       map[string]Status{"memory": StatusFail, "disk": StatusFail},
			wantDetail: map[string]string{"memory": "349 MiB available"},
			wantFailed: true,
		},
		{
			name: "unsupported os", tree: "fedora39",
			opts:       Options{DeviceType: "intel-nuc", NoAPICheck: true, NoVPNCheck: true},
			want:       map[string]Status{"os": StatusFail, "device": StatusOK},
			wantDetail: map[string]string{"os": "Fedora Linux 39", "device": "NUC8i5BEH"},
			wantFailed: true,
		},
		{
			name: "unsupported os with --no-os-check", tree: "fedora39",
			opts: Options{DeviceType: "intel-nuc", NoOSCheck: true, NoAPICheck: true,
				NoVPNCheck: true, MinMemory: gi},
			want: map[string]Status{"os": StatusWarn, "memory": StatusOK},
		},
		{
			name: "pi 3B+ by model string, 32-bit kernel", tree: "pi3-raspbian-old-dt",
			opts: Options{DeviceType: "raspberrypi3-64", NoAPICheck: true, NoVPNCheck: true},
			want: map[string]Status{"os": StatusOK, "device": StatusOK},
		},
		{
			name: "unknown device type", tree: "pi4-bookworm",
			opts:       Options{DeviceType: "foo-board", NoAPICheck: true, NoVPNCheck: true},
			want:       map[string]Status{"device": StatusFail},
			wantFailed: true,
		},
		{
			name: "no device type", tree: "pi4-bookworm",
			opts:       Options{NoAPICheck: true, NoVPNCheck: true},
			want:       map[string]Status{"device": StatusFail},
			wantFailed: true,
		},
		{
			name: "not root for a migration", tree: "pi4-bookworm", uid: 1000,
			opts: Options{DeviceType: "raspberrypi4-64", NeedRoot: true, NoAPICheck: true,
				NoVPNCheck: true},
			want:       map[string]Status{"root": StatusFail},
			wantFailed: true,
		},
		{
			name: "not root for a check", tree: "pi4-bookworm", uid: 1000,
			opts: Options{DeviceType: "raspberrypi4-64", NoAPICheck: true, NoVPNCheck: true},
			want: map[string]Status{"root": StatusWarn},
		},
		{
			name: "empty tree", tree: "",
			opts:       Options{DeviceType: "generic-amd64", NoAPICheck: true, NoVPNCheck: true},
			want:       map[string]Status{"os": StatusFail, "device": StatusFail},
			wantFailed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asRoot(t, tt.uid)
			tt.opts.Root = filepath.Join("testdata", tt.tree)
			if tt.tree == "" {
				tt.opts.Root = t.TempDir()
			}
			r := Run(context.Background(), tt.opts)
			for name, want := range tt.want {
				if got := find(r, name); got.Status != want {
					t.Errorf("Run(%s) %s = %s (%s), want %s", tt.tree, name, got.Status,
						got.Detail, want)
				}
			}
			for name, want := range tt.wantDetail {
				if got := find(r, name).Detail; !strings.Contains(got, want) {
					t.Errorf("Run(%s) %s detail = %q, want it to contain %q", tt.tree, name,
						got, want)
				}
			}
			if r.Failed() != tt.wantFailed {
				t.Errorf("Run(%s).Failed() = %v, want %v", tt.tree, r.Failed(), tt.wantFailed)
			}
			for _, c := range r.Checks {
				if (c.Status == StatusFail || c.Status == StatusWarn) && c.Fix == "" {
					t.Errorf("Run(%s) %s is %s without a fix", tt.tree, c.Name, c.Status)
				}
			}
		})
	}
}

func TestFixNamesFlag(t *testing.T) {
	asRoot(t, 0)
	r := Run(context.Background(), Options{Root: "testdata/fedora39",
		DeviceType: "raspberrypi4-64", NoAPICheck: true, NoVPNCheck: true})
	for name, flag := range map[string]string{"os": "--no-os-check", "device": "--no-dt-check"} {
		if fix := find(r, name).Fix; !strings.Contains(fix, flag) {
			t.Errorf("%s fix = %q, want it to name %s", name, fix, flag)
		}
	}
}

func TestVPN(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	open := ln.Addr().(*net.TCPAddr).Port

	closedLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := closedLn.Addr().(*net.TCPAddr).Port
	closedLn.Close()

	tests := []struct {
		name     string
		opts     Options
		want     Status
		wantText string
	}{
		{name: "listening", opts: Options{VPNEndpoint: "127.0.0.1", VPNPort: open},
			want: StatusOK, wantText: "reachable"},
		{name: "refused", opts: Options{VPNEndpoint: "127.0.0.1", VPNPort: closed},
			want: StatusFail, wantText: "connection refused"},
		{name: "no endpoint", opts: Options{VPNPort: open}, want: StatusFail,
			wantText: "no vpnEndpoint"},
		{name: "skipped", opts: Options{NoVPNCheck: true}, want: StatusSkip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Timeout = 2 * time.Second
			c := checkVPN(context.Background(), tt.opts)
			if c.Status != tt.want || !strings.Contains(c.Detail, tt.wantText) {
				t.Errorf("checkVPN(%s) = %s %q, want %s containing %q", tt.name, c.Status,
					c.Detail, tt.want, tt.wantText)
			}
		})
	}
}

func TestAPI(t *testing.T) {
	var sawDeadline bool
	ok := func(ctx context.Context) error {
		_, sawDeadline = ctx.Deadline()
		return nil
	}
	failing := func(context.Context) error { return errors.New("502 Bad Gateway") }
	tests := []struct {
		name     string
		opts     Options
		want     Status
		wantText string
	}{
		{name: "answers", opts: Options{APIEndpoint: "https://api.example", APIPing: ok},
			want: StatusOK, wantText: "answers /ping"},
		{name: "failing", opts: Options{APIEndpoint: "https://api.example", APIPing: failing},
			want: StatusFail, wantText: "502 Bad Gateway"},
		{name: "no ping function", opts: Options{APIEndpoint: "https://api.example"},
			want: StatusFail, wantText: "no API client"},
		{name: "no endpoint", opts: Options{APIPing: ok}, want: StatusFail,
			wantText: "no apiEndpoint"},
		{name: "skipped", opts: Options{NoAPICheck: true, APIPing: failing}, want: StatusSkip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Timeout = time.Second
			c := checkAPI(context.Background(), tt.opts)
			if c.Status != tt.want || !strings.Contains(c.Detail, tt.wantText) {
				t.Errorf("checkAPI(%s) = %s %q, want %s containing %q", tt.name, c.Status,
					c.Detail, tt.want, tt.wantText)
			}
		})
	}
	if !sawDeadline {
		t.Errorf("APIPing got a context without a deadline, want the check timeout")
	}
}

func TestHostname(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string
		wantErr bool
	}{
		{name: "plain", content: "pi4-kitchen\n", want: "pi4-kitchen"},
		{name: "dotted", content: "node1.example.com", want: "node1.example.com"},
		{name: "kernel default", content: "(none)\n", wantErr: true},
		{name: "localhost", content: "localhost\n", wantErr: true},
		{name: "underscore", content: "my_pi\n", wantErr: true},
		{name: "leading dash", content: "-pi\n", wantErr: true},
		{name: "empty label", content: "a..b\n", wantErr: true},
		{name: "empty", content: "\n", wantErr: true},
		{name: "too long", content: strings.Repeat("a", 65), wantErr: true},
		{name: "control byte", content: "pi\x1b[31m\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			p := filepath.Join(root, "proc/sys/kernel/hostname")
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := Hostname(root)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("Hostname(%q) = %q, %v; want %q (error %v)", tt.content, got, err,
					tt.want, tt.wantErr)
			}
		})
	}
	if _, err := Hostname(t.TempDir()); err == nil {
		t.Errorf("Hostname(tree without /proc) = nil error, want one")
	}
}

func TestReportOutput(t *testing.T) {
	r := Report{Checks: []Check{
		{Name: "root", Status: StatusOK, Detail: "running as root"},
		{Name: "os", Status: StatusFail, Detail: "Fedora", Fix: "pass --no-os-check"},
	}}
	var table bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CHECK", "root", "fail", "fix:", "pass --no-os-check"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("WriteTable = %q, want it to contain %q", table.String(), want)
		}
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("WriteJSON output does not decode: %v\n%s", err, js.String())
	}
	if len(back.Checks) != 2 || back.Checks[1] != r.Checks[1] || !back.Failed() {
		t.Errorf("WriteJSON round trip = %+v, want %+v", back, r)
	}
}

func TestVersionLess(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"9", "10", true}, {"10", "10", false}, {"18.04", "20.04", true},
		{"22.04", "18.04", false}, {"18.04.6", "18.04", false}, {"16.04", "18.04", true},
	}
	for _, tt := range tests {
		if got := versionLess(tt.a, tt.b); got != tt.want {
			t.Errorf("versionLess(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestMemAvailableFallback(t *testing.T) {
	got, err := MemAvailable("testdata/fedora39")
	want := int64(4000000+100000+1000000) << 10
	if err != nil || got != want {
		t.Errorf("MemAvailable(no MemAvailable line) = %d, %v; want %d", got, err, want)
	}
}

// FuzzParseOSRelease: whatever os-release says, the check passes only for
// a listed ID at or above its minimum version.
func FuzzParseOSRelease(f *testing.F) {
	f.Add([]byte("ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME='x'\n"))
	f.Add([]byte("ID=\"ubu\\ntu\"\nVERSION_ID=18.04\n"))
	f.Add([]byte("ID=fedora\nVERSION_ID=39\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "etc/os-release"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		kv := parseOSRelease(data)
		sup, listed := supportedOS[kv["ID"]]
		wantOK := listed && kv["VERSION_ID"] != "" && !versionLess(kv["VERSION_ID"], sup.min)
		if c := osCheck(root); (c.Status == StatusOK) != wantOK {
			t.Fatalf("osCheck(ID=%q VERSION_ID=%q) = %s, want ok %v", kv["ID"],
				kv["VERSION_ID"], c.Status, wantOK)
		}
	})
}

func FuzzHostname(f *testing.F) {
	for _, s := range []string{"pi", "a.b", "-x", "(none)", "a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if validHostname(name) != nil {
			return
		}
		for _, c := range name {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
				c == '-' || c == '.') {
				t.Fatalf("validHostname accepted %q with %q", name, c)
			}
		}
	})
}

func FuzzModelSlugs(f *testing.F) {
	f.Add("raspberrypi,4-model-b\x00brcm,bcm2711", "Raspberry Pi 4 Model B Rev 1.4")
	f.Add("", "Raspberry Pi Compute Module 4 Rev 1.0")
	f.Fuzz(func(t *testing.T, compat, model string) {
		for _, s := range dtModelSlugs(strings.Split(compat, "\x00"), model) {
			if _, ok := deviceTypes[s]; !ok {
				t.Fatalf("dtModelSlugs gave %s, which deviceTypes does not list", s)
			}
		}
	})
}

// The original tool's model regex refused the Pi 3B+, Zero 2 W, CM4, 400 and
// Pi 5; the tables here must take each of them.
func TestModelSlugs(t *testing.T) {
	tests := []struct {
		compat string // NUL-separated, as in /proc/device-tree/compatible
		model  string
		want   string // first slug
	}{
		{compat: "raspberrypi,3-model-b-plus\x00brcm,bcm2837", want: "raspberrypi3"},
		{compat: "raspberrypi,model-zero-2-w\x00brcm,bcm2837", want: "raspberrypi0-2w-64"},
		{compat: "raspberrypi,4-compute-module\x00brcm,bcm2711", want: "raspberrypicm4-ioboard"},
		{compat: "raspberrypi,400\x00brcm,bcm2711", want: "raspberrypi400-64"},
		{compat: "raspberrypi,5-model-b\x00brcm,bcm2712", want: "raspberrypi5"},
		{compat: "raspberrypi,model-zero-w\x00brcm,bcm2835", want: "raspberry-pi"},
		{compat: "raspberrypi,2-model-b\x00brcm,bcm2836", want: "raspberry-pi2"},
		{compat: "ti,am335x-bone-green-wireless\x00ti,am335x-bone-green\x00ti,am33xx",
			want: "beaglebone-green-wifi"},
		{compat: "nvidia,p3509-0000+p3668-0000\x00nvidia,p3668-0000\x00nvidia,tegra194",
			want: "jetson-xavier-nx-devkit"},
		{model: "Raspberry Pi 3 Model B Plus Rev 1.3", want: "raspberrypi3"},
		{model: "Raspberry Pi 3 Model A Plus Rev 1.0", want: "raspberrypi3"},
		{model: "Raspberry Pi Zero 2 W Rev 1.0", want: "raspberrypi0-2w-64"},
		{model: "Raspberry Pi Zero Rev 1.3", want: "raspberry-pi"},
		{model: "Raspberry Pi Compute Module 4 Rev 1.0", want: "raspberrypicm4-ioboard"},
		{model: "Raspberry Pi 400 Rev 1.0", want: "raspberrypi400-64"},
		{model: "Raspberry Pi Model B Plus Rev 1.2", want: "raspberry-pi"},
		{model: "Raspberry Pi 5 Model B Rev 1.0", want: "raspberrypi5"},
		{model: "Orange Pi 5", want: ""},
	}
	for _, tt := range tests {
		var compat []string
		if tt.compat != "" {
			compat = strings.Split(tt.compat, "\x00")
		}
		got := dtModelSlugs(compat, tt.model)
		first := ""
		if len(got) > 0 {
			first = got[0]
		}
		if first != tt.want {
			t.Errorf("dtModelSlugs(%q, %q) = %v, want first %q", tt.compat, tt.model, got, tt.want)
		}
	}
}
