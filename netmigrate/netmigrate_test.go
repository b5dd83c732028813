package netmigrate

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// secrets are every password, psk and key in testdata: none may reach a log.
var secrets = []string{
	"3b8a2f0c9d1e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c",
	"correct horse battery", "p@ss with", "s3cret!", "abcde", "duplicate entry loses",
	"disabledpass", "meshmeshmesh", "leading space pass", "office password",
	"hotspotpass", "user-file-psk", "gardenpassphrase",
}

func testLogger(buf *bytes.Buffer) logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(buf)
	l.SetLevel(logrus.DebugLevel)
	return l
}

func TestCollect(t *testing.T) {
	tests := []struct {
		name      string
		tree      string
		noWifis   bool
		wifis     []string
		wantNames []string
		wantLog   []string // warnings the user must see
	}{
		{
			name: "pi-bookworm", tree: "pi-bookworm",
			wantNames: []string{"resin-wifi-01", "resin-wifi-02", "resin-ethernet-01"},
			wantLog: []string{"psk is kept by a secret agent", "wifi mode ap",
				"dropped user permissions"},
		},
		{
			name: "pi-bookworm-no-wifis", tree: "pi-bookworm", noWifis: true,
			wantNames: []string{"resin-ethernet-01"},
		},
		{
			name: "pi-bookworm-wifi-filter", tree: "pi-bookworm", noWifis: true,
			wifis:     []string{"HomeNet", "Nowhere"},
			wantNames: []string{"resin-wifi-01", "resin-ethernet-01"},
			wantLog:   []string{"wifi network given with --wifi not found"},
		},
		{
			name: "pi-bullseye", tree: "pi-bullseye",
			wantNames: []string{"resin-wifi-01", "resin-wifi-02", "resin-wifi-03",
				"resin-wifi-04", "resin-wifi-05", "resin-wifi-06", "resin-wifi-07",
				"resin-ethernet-01"},
			wantLog: []string{"ca_cert: certificate files are not carried",
				"disabled in wpa_supplicant", "static address on wlan0"},
		},
		{
			name: "connman", tree: "connman",
			wantNames: []string{"resin-wifi-01", "resin-wifi-02"},
			wantLog:   []string{"802.1X settings live in a separate provisioning file"},
		},
		{
			name: "debian-ifupdown", tree: "debian-ifupdown",
			wantNames: []string{"resin-wifi-01", "resin-wifi-02", "resin-wifi-03",
				"resin-ethernet-01", "resin-ethernet-02"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			res, err := Collect(Options{Root: filepath.Join("testdata", tt.tree),
				NoWifis: tt.noWifis, Wifis: tt.wifis, Log: testLogger(&logs)})
			if err != nil {
				t.Fatalf("Collect(%s) error: %v", tt.tree, err)
			}
			if got := names(res); strings.Join(got, " ") != strings.Join(tt.wantNames, " ") {
				t.Errorf("Collect(%s) names = %v, want %v", tt.tree, got, tt.wantNames)
			}
			checkNoSecrets(t, logs.String())
			for _, w := range tt.wantLog {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("Collect(%s) log lacks %q:\n%s", tt.tree, w, logs.String())
				}
			}
			checkReparse(t, res)
			golden(t, tt.name, render(res))
		})
	}
}

func names(r *Result) []string {
	var out []string
	for _, f := range r.Files {
		out = append(out, f.Name)
	}
	return out
}

func render(r *Result) []byte {
	var b bytes.Buffer
	for _, f := range r.Files {
		b.WriteString("=== " + f.Name + " ===\n")
		b.Write(f.Data)
	}
	return b.Bytes()
}

func checkNoSecrets(t *testing.T, logs string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("log contains secret %q:\n%s", s, logs)
		}
	}
}

// checkReparse proves each keyfile reads back: a [connection] with the
// file's own id and a type.
func checkReparse(t *testing.T, r *Result) {
	t.Helper()
	for _, f := range r.Files {
		kf, err := parseKeyfile(f.Data)
		if err != nil {
			t.Errorf("parseKeyfile(%s) error: %v", f.Name, err)
			continue
		}
		if id := kf.get("id", "connection"); id != f.Name {
			t.Errorf("%s: id = %q, want %q", f.Name, id, f.Name)
		}
		if kf.get("type", "connection") == "" {
			t.Errorf("%s: no connection type", f.Name)
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (rerun with -update if intended):\n%s", path, got)
	}
}

func TestCollectEmptyTree(t *testing.T) {
	res, err := Collect(Options{Root: t.TempDir()})
	if err != nil {
		t.Fatalf("Collect(empty) error: %v", err)
	}
	if res.Count() != 0 {
		t.Errorf("Collect(empty).Count() = %d, want 0", res.Count())
	}
	for _, flag := range []string{"--no-nwmgr-check", "--nwmgr-cfg"} {
		if !strings.Contains(ErrNoNetwork.Error(), flag) {
			t.Errorf("ErrNoNetwork = %q, want it to name %s", ErrNoNetwork, flag)
		}
	}
}

func TestCollectUserFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "my-wifi")
	goodData := "[connection]\nid=mine\ntype=wifi\n[wifi]\nssid=X\n" +
		"[wifi-security]\nkey-mgmt=wpa-psk\npsk=user-file-psk\n"
	bad := filepath.Join(dir, "notes.txt")
	writeFile(t, good, goodData)
	writeFile(t, bad, "just some notes\n")

	var logs bytes.Buffer
	res, err := Collect(Options{Root: filepath.Join("testdata", "pi-bookworm"), NoWifis: true,
		NMFiles: []string{good, good}, Log: testLogger(&logs)})
	if err != nil {
		t.Fatalf("Collect(--nwmgr-cfg %s) error: %v", good, err)
	}
	want := "balena-01 balena-02 resin-ethernet-01"
	if got := strings.Join(names(res), " "); got != want {
		t.Errorf("Collect(--nwmgr-cfg twice) names = %s, want %s", got, want)
	}
	if string(res.Files[0].Data) != goodData {
		t.Errorf("balena-01 = %q, want the file copied unchanged", res.Files[0].Data)
	}
	checkNoSecrets(t, logs.String())

	if _, err := Collect(Options{Root: dir, NMFiles: []string{bad}}); err == nil {
		t.Errorf("Collect(--nwmgr-cfg %s) = nil error, want a refusal", bad)
	}
	if _, err := Collect(Options{Root: dir, NMFiles: []string{filepath.Join(dir, "nope")}}); err == nil {
		t.Errorf("Collect(--nwmgr-cfg missing) = nil error, want one")
	}
}

func TestCollectUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files whatever their mode")
	}
	root := t.TempDir()
	p := filepath.Join(root, wpaDir, "wpa_supplicant.conf")
	writeFile(t, p, "network={\nssid=\"a\"\n}\n")
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := Collect(Options{Root: root}); err == nil {
		t.Errorf("Collect(unreadable wpa file) = nil error, want one")
	}
}

func TestWriteDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "system-connections")
	r := &Result{Files: []File{{Name: "resin-wifi-01", Data: []byte("a")},
		{Name: "balena-01", Data: []byte("b")}}}
	if err := r.WriteDir(dir); err != nil {
		t.Fatalf("WriteDir(%s) error: %v", dir, err)
	}
	// A second run with fewer files must not leave the first run's behind.
	r2 := &Result{Files: []File{{Name: "resin-wifi-01", Data: []byte("c")}}}
	if err := r2.WriteDir(dir); err != nil {
		t.Fatalf("WriteDir(%s) again error: %v", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "resin-wifi-01" {
		t.Fatalf("after second WriteDir, dir holds %v, want only resin-wifi-01", entries)
	}
	fi, err := os.Stat(filepath.Join(dir, "resin-wifi-01"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("keyfile mode = %v, want 0600", fi.Mode().Perm())
	}
	writeFile(t, filepath.Join(dir, "important.txt"), "x")
	if err := r2.WriteDir(dir); err == nil {
		t.Errorf("WriteDir(dir with a foreign file) = nil, want a refusal")
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
