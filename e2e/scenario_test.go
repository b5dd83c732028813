//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/takeover-dev/takeover/internal/vmtest"
)

// Guest addresses of the fake balena API and VPN (forwarded to loopback).
const (
	guestAPI = "10.0.2.100:80"
	guestVPN = "10.0.2.101:443"
)

// Stage2's console markers.
const (
	markStart   = "TAKEOVER-STAGE2-START"
	markFlashed = "TAKEOVER-STAGE2-FLASHED"
	markVerify  = "TAKEOVER-STAGE2-VERIFIED sha256="
	markDone    = "TAKEOVER-STAGE2-DONE"
	markPretend = "TAKEOVER-STAGE2-PRETEND-DONE"
	markFailed  = "TAKEOVER-STAGE2-FAILED"
	markExit    = "OLD-OS-TAKEOVER-EXIT"
	markPanic   = "Kernel panic"
)

// scenario is one migration: the synthetic image, the fake API serving it,
// the config.json and the old OS disk prepared for the run.
type scenario struct {
	t        *testing.T
	os       oldOS
	takeover string // host build of cmd/takeover
	image    image
	marker   string
	apiKey   string
	hostname string
	config   []byte // /etc/takeover/config.json in the guest
	api      *fakeAPI
}

type scenarioOptions struct {
	table string // mbr (default) or gpt
	fault string // fakebalena --fault
}

func newScenario(t *testing.T, o scenarioOptions) *scenario {
	t.Helper()
	requireVM(t)
	if o.table == "" {
		o.table = "mbr"
	}
	s := &scenario{t: t, os: getOldOS(t), marker: randomHex(t, 6)}
	s.takeover = buildTool(t, "cmd/takeover")
	s.image = syntheticImage(t, o.table, s.marker)
	s.apiKey = "e2e-api-key-" + randomHex(t, 8)
	s.hostname = "e2e-" + s.marker
	s.config = s.configJSON()
	s.api = startFakeAPI(t, filepath.Dir(s.image.Path), o.fault)
	return s
}

func (s *scenario) configJSON() []byte {
	b, err := json.MarshalIndent(map[string]any{
		"applicationId":         4242,
		"deviceType":            "genericx86-64-ext",
		"apiEndpoint":           "http://" + strings.TrimSuffix(guestAPI, ":80"),
		"vpnEndpoint":           strings.TrimSuffix(guestVPN, ":443"),
		"vpnPort":               443,
		"apiKey":                s.apiKey,
		"userId":                7,
		"listenPort":            48484,
		"persistentLogging":     false,
		"registryEndpoint":      "registry2.example.test",
		"deltaEndpoint":         "https://delta.example.test",
		"mixpanelToken":         "e2e",
		"appUpdatePollInterval": 900000,
	}, "", "  ")
	must(s.t, err)
	return append(b, '\n')
}

// guestFiles are the files the old OS carries: takeover, its config, the
// network settings and data to migrate, and the scenario script.
func (s *scenario) guestFiles(script string, extra ...vmtest.File) []vmtest.File {
	td := filepath.Join(repoRoot(s.t), "testdata", "e2e")
	files := []vmtest.File{
		{Path: "/usr/local/bin/takeover", Source: s.takeover, Mode: 0o755},
		{Path: "/etc/takeover/config.json", Data: s.config, Mode: 0o600},
		{Path: "/etc/takeover/backup.yml", Source: filepath.Join(td, "backup.yml")},
		{Path: "/etc/wpa_supplicant/wpa_supplicant.conf", Mode: 0o600,
			Source: filepath.Join(td, "wpa_supplicant.conf")},
		{Path: "/etc/NetworkManager/system-connections/lab-ethernet.nmconnection", Mode: 0o600,
			Source: filepath.Join(td, "lab-ethernet.nmconnection")},
		{Path: "/etc/hostname", Data: []byte(s.hostname + "\n")},
		{Path: "/srv/appdata/readme.txt", Data: []byte("backup marker " + s.marker + "\n")},
		{Path: "/srv/appdata/sub/state.json", Data: []byte(`{"counter":42}` + "\n")},
		scenarioScript(script),
	}
	return append(files, extra...)
}

// forwards connects the guest's API and VPN addresses to the fake.
func (s *scenario) forwards() []vmtest.Forward {
	return []vmtest.Forward{
		{GuestAddr: guestAPI, HostAddr: s.api.addr},
		{GuestAddr: guestVPN, HostAddr: s.api.vpnAddr},
	}
}

// takeoverCommand is the migration as an operator runs it, flags as in the
// original tool.
const takeoverCommand = "mkdir -p /var/lib/takeover && /usr/local/bin/takeover " +
	"-c /etc/takeover/config.json --no-ack -w /var/lib/takeover " +
	"--backup-cfg /etc/takeover/backup.yml --fallback-log --log-level debug"

// fakeAPI is a running cmd/fakebalena.
type fakeAPI struct {
	base, addr, vpnAddr string
	requestsLog         string
	cmd                 *exec.Cmd
}

func startFakeAPI(t *testing.T, imagesDir, fault string) *fakeAPI {
	t.Helper()
	bin := buildTool(t, "cmd/fakebalena")
	dir := t.TempDir()
	f := &fakeAPI{requestsLog: filepath.Join(dir, "requests.jsonl"), vpnAddr: freeLoopbackAddr(t)}
	args := []string{"--listen", "127.0.0.1:0", "--images", imagesDir,
		"--vpn-listen", f.vpnAddr, "--requests-log", f.requestsLog}
	if fault != "" {
		args = append(args, "--fault", fault)
	}
	f.cmd = exec.Command(bin, args...)
	stderr, err := os.Create(filepath.Join(dir, "fakebalena.log"))
	must(t, err)
	f.cmd.Stderr = stderr
	stdout, err := f.cmd.StdoutPipe()
	must(t, err)
	must(t, f.cmd.Start())
	t.Cleanup(func() {
		_ = f.cmd.Process.Kill() // ours; reaped below
		_ = f.cmd.Wait()
		stderr.Close()
		if t.Failed() {
			reqs, _ := os.ReadFile(f.requestsLog)
			logs, _ := os.ReadFile(stderr.Name())
			t.Logf("fake API requests:\n%s\nfake API log (tail):\n%s",
				lastLines(string(reqs), 20), lastLines(string(logs), 20))
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
	}()
	select {
	case base, ok := <-line:
		if !ok {
			t.Fatalf("fakebalena printed no base URL (log %s)", stderr.Name())
		}
		f.base = strings.TrimSpace(base)
	case <-time.After(30 * time.Second):
		t.Fatalf("fakebalena printed no base URL within 30s")
	}
	f.addr = strings.TrimPrefix(strings.TrimPrefix(f.base, "http://"), "https://")
	t.Logf("fake API at %s, VPN stand-in at %s", f.base, f.vpnAddr)
	return f
}

// freeLoopbackAddr picks a loopback port that is free now.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	return l.Addr().String()
}

// checkDownloaded checks the fake API served the image to the guest, with
// the config's API key.
func (f *fakeAPI) checkDownloaded(t *testing.T, apiKey string) {
	t.Helper()
	b, err := os.ReadFile(f.requestsLog)
	must(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		var r struct{ Method, Path, Auth string }
		if json.Unmarshal([]byte(l), &r) == nil && r.Method == "POST" && r.Path == "/download" {
			if r.Auth != "Bearer "+apiKey {
				t.Fatalf("image download authorised as %q, want the config's apiKey", r.Auth)
			}
			t.Logf("PASS the guest downloaded the image from the fake API with its apiKey")
			return
		}
	}
	t.Fatalf("the fake API saw no POST /download:\n%s", b)
}
