package initswap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTree makes files (path -> "" for an empty file, "-> target" for a
// symbolic link) under a new root and returns it.
func fakeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, v := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(v, "-> "); ok {
			err = os.Symlink(target, full)
		} else {
			err = os.WriteFile(full, []byte(v), 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestFindInit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proc1   string // target of /proc/1/exe
		files   map[string]string
		want    initProcess
		wantErr string
	}{
		{name: "systemd, merged /usr", proc1: "/usr/lib/systemd/systemd",
			files: map[string]string{"usr/lib/systemd/systemd": "", "bin": "-> usr/bin",
				"usr/bin/systemctl": "", "sbin/telinit": "-> ../bin/systemctl"},
			want: initProcess{Exe: "/usr/lib/systemd/systemd", Kind: kindSystemd,
				Tool: "/usr/bin/systemctl", Args: []string{"daemon-reexec"}}},
		{name: "systemd upgraded since boot", proc1: "/lib/systemd/systemd (deleted)",
			files: map[string]string{"lib/systemd/systemd": "", "bin/systemctl": ""},
			want: initProcess{Exe: "/lib/systemd/systemd", Kind: kindSystemd,
				Tool: "/bin/systemctl", Args: []string{"daemon-reexec"}}},
		{name: "sysvinit with its own telinit", proc1: "/sbin/init",
			files: map[string]string{"sbin/init": "", "sbin/telinit": "telinit"},
			want: initProcess{Exe: "/sbin/init", Kind: kindSysvinit, Tool: "/sbin/telinit",
				Args: []string{"u"}}},
		{name: "Devuan: telinit is init", proc1: "/sbin/init",
			files: map[string]string{"sbin/init": "", "sbin/telinit": "-> init"},
			want: initProcess{Exe: "/sbin/init", Kind: kindSysvinit, Tool: "/sbin/telinit",
				Args: []string{"u"}, ToolIsInit: true}},
		{name: "busybox init", proc1: "/bin/busybox",
			files:   map[string]string{"bin/busybox": "", "sbin/init": "-> /bin/busybox"},
			wantErr: "only systemd and sysvinit"},
		{name: "systemd without systemctl", proc1: "/lib/systemd/systemd",
			files:   map[string]string{"lib/systemd/systemd": ""},
			wantErr: "finding systemctl"},
		{name: "executable gone", proc1: "/usr/lib/systemd/systemd (deleted)",
			files: map[string]string{"usr/bin/systemctl": ""}, wantErr: "upgrade since boot"},
	} {
		root := fakeTree(t, tc.files)
		proc := fakeTree(t, map[string]string{"1/exe": "-> " + tc.proc1})
		got, err := findInit(root, proc)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: findInit() = %+v, %v, want error %q", tc.name, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got.Exe != tc.want.Exe || got.Kind != tc.want.Kind ||
			got.Tool != tc.want.Tool || strings.Join(got.Args, " ") !=
			strings.Join(tc.want.Args, " ") || got.ToolIsInit != tc.want.ToolIsInit {
			t.Errorf("%s: findInit() = %+v, %v, want %+v", tc.name, got, err, tc.want)
		}
	}
}

func TestResolve(t *testing.T) {
	root := fakeTree(t, map[string]string{
		"usr/lib/systemd/systemd": "", "lib": "-> usr/lib", "sbin/init": "-> /lib/systemd/systemd",
		"usr/sbin/telinit": "-> ../../sbin/init", "loop": "-> loop",
	})
	for _, tc := range []struct {
		in, want string
		wantErr  bool
	}{
		{in: "/sbin/init", want: "/usr/lib/systemd/systemd"},
		{in: "/usr/sbin/telinit", want: "/usr/lib/systemd/systemd"},
		{in: "/lib/systemd/../systemd/systemd", want: "/usr/lib/systemd/systemd"},
		{in: "/loop", wantErr: true},
		{in: "/none", wantErr: true},
	} {
		got, err := resolve(root, tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("resolve(%q) = %q, %v, want %q (error %v)", tc.in, got, err, tc.want,
				tc.wantErr)
		}
	}
}
