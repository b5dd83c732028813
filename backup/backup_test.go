package backup

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string // substring; "" means success
		check   func(t *testing.T, c Config)
	}{
		{
			name: "full",
			yaml: `
## the whole app volume
- volume: "app-data"
  items:
    - source: /home/pi/app/
      target: "db dir"
    - source: /etc/app.conf
- volume: logs
  items:
    - source: /var/log/app
      filter: 'balena-.*'
`,
			check: func(t *testing.T, c Config) {
				if len(c.Volumes) != 2 || len(c.Volumes[0].Items) != 2 {
					t.Fatalf("ParseConfig = %+v, want 2 volumes, 2 items in the first", c)
				}
				it := c.Volumes[0].Items[0]
				if it.Source != "/home/pi/app" || it.Target != "db dir" || it.Filter != nil {
					t.Errorf("first item = %+v, want source /home/pi/app, target \"db dir\"", it)
				}
				if f := c.Volumes[1].Items[0].Filter; f == nil || !f.MatchString("/x/balena-1") {
					t.Errorf("filter = %v, want balena-.* compiled", f)
				}
			},
		},
		{name: "unknown key", wantErr: "line 3",
			yaml: "- volume: a\n  items:\n    - sorce: /x\n"},
		{name: "item instead of items", wantErr: "line 2",
			yaml: "- volume: a\n  item:\n    - source: /x\n"},
		{name: "readme loose shape", wantErr: "parsing",
			yaml: "- volume: \"v\"\n - source: /x\n   target: t\n"},
		{name: "bad regex", wantErr: "line 3: volume \"a\": filter",
			yaml: "- volume: a\n  items:\n    - source: /x\n      filter: '(['\n"},
		{name: "empty volume name", wantErr: "line 1: volume name",
			yaml: "- volume: \"\"\n  items:\n    - source: /x\n"},
		{name: "slash in volume name", wantErr: "volume name",
			yaml: "- volume: a/b\n  items:\n    - source: /x\n"},
		{name: "no items", wantErr: "has no items", yaml: "- volume: a\n"},
		{name: "no source", wantErr: "no source",
			yaml: "- volume: a\n  items:\n    - target: t\n"},
		{name: "relative source", wantErr: "not an absolute path",
			yaml: "- volume: a\n  items:\n    - source: home/pi\n"},
		{name: "target escapes", wantErr: "leaves the volume",
			yaml: "- volume: a\n  items:\n    - source: /x\n      target: ../../etc\n"},
		{name: "empty file", wantErr: "empty", yaml: "\n"},
		{name: "empty list", wantErr: "no volume", yaml: "[]\n"},
		{name: "not a list", wantErr: "parsing", yaml: "volume: a\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tt.yaml))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseConfig(%s) error: %v", tt.name, err)
				}
				tt.check(t, c)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseConfig(%s) error = %v, want one containing %q", tt.name, err, tt.wantErr)
			}
		})
	}
}

// entry is what the test reads back from an archive.
type entry struct {
	typ  byte
	mode int64
	link string
	data string
	mod  time.Time
}

func readArchive(t *testing.T, path string) map[string]entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("gzip.NewReader(%s): %v", path, err)
	}
	tr := tar.NewReader(gz)
	out := map[string]entry{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := out[h.Name]; dup {
			t.Errorf("archive holds %s twice", h.Name)
		}
		out[h.Name] = entry{typ: h.Typeflag, mode: h.Mode, link: h.Linkname, data: string(data),
			mod: h.ModTime}
	}
}

// tree builds a source directory:
//
//	src/a.txt  src/sub/b.db  src/sub/c.log  src/empty/  src/link -> /etc/passwd
//	single.txt
func tree(t *testing.T) (root string, mtime time.Time) {
	t.Helper()
	root = t.TempDir()
	mtime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	files := map[string]string{"src/a.txt": "alpha", "src/sub/b.db": "bravo",
		"src/sub/c.log": "charlie", "single.txt": "solo"}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, "src/empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(root, "src/link")); err != nil {
		t.Fatal(err)
	}
	return root, mtime
}

func TestCreate(t *testing.T) {
	root, mtime := tree(t)
	cfgYAML := fmt.Sprintf(`
- volume: data
  items:
    - source: %[1]s/src
      target: "target dir"
    - source: %[1]s/single.txt
- volume: dbs
  items:
    - source: %[1]s/src
      filter: '\.db$'
`, root)
	cfg, err := ParseConfig([]byte(cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "backup.tgz")
	sum, err := Create(cfg, out, Options{})
	if err != nil {
		t.Fatalf("Create error: %v", err)
	}
	got := readArchive(t, out)
	want := []string{"data/", "data/single.txt", "data/target dir/", "data/target dir/a.txt",
		"data/target dir/empty/", "data/target dir/link", "data/target dir/sub/",
		"data/target dir/sub/b.db", "data/target dir/sub/c.log", "dbs/", "dbs/sub/",
		"dbs/sub/b.db"}
	if names := sortedKeys(got); strings.Join(names, "|") != strings.Join(want, "|") {
		t.Fatalf("archive entries =\n%q\nwant\n%q", names, want)
	}
	a := got["data/target dir/a.txt"]
	if a.data != "alpha" || a.mode != 0o640 || !a.mod.Equal(mtime) {
		t.Errorf("a.txt = %q mode %o mtime %v, want alpha 640 %v", a.data, a.mode, a.mod, mtime)
	}
	if l := got["data/target dir/link"]; l.typ != tar.TypeSymlink || l.link != "/etc/passwd" {
		t.Errorf("link = type %c -> %q, want a symlink to /etc/passwd", l.typ, l.link)
	}
	if e := got["data/target dir/empty/"]; e.typ != tar.TypeDir || e.mode != 0o700 {
		t.Errorf("empty/ = type %c mode %o, want a directory 700", e.typ, e.mode)
	}
	if sum.Files != 5 || sum.Bytes != 5+5+7+4+5 || sum.Compressed <= 0 {
		t.Errorf("Create summary = %+v, want 5 files, 26 bytes, a compressed size", sum)
	}
	checkOutFile(t, out, sum.Compressed)
	listWithTar(t, out, want)
}

func sortedKeys(m map[string]entry) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func checkOutFile(t *testing.T, out string, size int64) {
	t.Helper()
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != size {
		t.Errorf("%s mode %v size %d, want 0600 and %d", out, fi.Mode().Perm(), fi.Size(), size)
	}
	if _, err := os.Stat(out + ".part"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s.part left behind (stat error %v)", out, err)
	}
}

// listWithTar proves an ordinary tar reads the archive, as the supervisor
// does with tar -xzf.
func listWithTar(t *testing.T, out string, want []string) {
	t.Helper()
	if _, err := exec.LookPath("tar"); err != nil {
		t.Log("tar not installed: skipping the tar -tzf listing")
		return
	}
	b, err := exec.Command("tar", "-tzf", out).CombinedOutput()
	if err != nil {
		t.Fatalf("tar -tzf %s: %v\n%s", out, err, b)
	}
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	sort.Strings(got)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("tar -tzf lists\n%q\nwant\n%q", got, want)
	}
}

func TestCreateRefusals(t *testing.T) {
	root, _ := tree(t)
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "missing source", wantErr: "no such file",
			cfg: Config{Volumes: []Volume{{Name: "v",
				Items: []Item{{Source: filepath.Join(root, "nope")}}}}}},
		{name: "two items one path", wantErr: "two items write v/single.txt",
			cfg: Config{Volumes: []Volume{{Name: "v", Items: []Item{
				{Source: filepath.Join(root, "single.txt")},
				{Source: filepath.Join(root, "single.txt")}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "backup.tgz")
			_, err := Create(tt.cfg, out, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Create(%s) error = %v, want one containing %q", tt.name, err, tt.wantErr)
			}
			for _, p := range []string{out, out + ".part"} {
				if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Create(%s) left %s behind", tt.name, p)
				}
			}
		})
	}
}

// The archive may be written inside a directory being backed up (a work
// directory under /home/pi, say); it must not archive itself.
func TestCreateSkipsItself(t *testing.T) {
	root, _ := tree(t)
	cfg := Config{Volumes: []Volume{{Name: "v", Items: []Item{{Source: root}}}}}
	out := filepath.Join(root, "src", "backup.tgz")
	if _, err := Create(cfg, out, Options{}); err != nil {
		t.Fatalf("Create(into its own source) error: %v", err)
	}
	for name := range readArchive(t, out) {
		if strings.Contains(name, "backup.tgz") {
			t.Errorf("archive contains itself as %s", name)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("- volume: a\n  items:\n    - source: /x\n      target: t\n      filter: 'a.*'\n"))
	f.Add([]byte("- volume: a\n  item:\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		for _, v := range c.Volumes {
			if v.Name == "" || strings.Contains(v.Name, "/") || len(v.Items) == 0 {
				t.Fatalf("ParseConfig accepted volume %+v", v)
			}
			for _, it := range v.Items {
				if !filepath.IsAbs(it.Source) || strings.HasPrefix(it.Target, "..") {
					t.Fatalf("ParseConfig accepted item %+v", it)
				}
			}
		}
	})
}
