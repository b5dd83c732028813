package initramfs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// GNU cpio and bsdtar must list and extract what we write, byte-identical,
// each archive of the combined file in turn. GNU cpio reads 512-byte blocks
// and stops at a trailer, so two runs on one stdin read both archives, as
// with a microcode-prefixed initrd. /dev/console is listed but not
// extracted: making a device node needs root.
func TestExternalTools(t *testing.T) {
	f := newFixture(t)
	combined := filepath.Join(t.TempDir(), "initrd.cpio")
	writeFile(t, combined, f.combined)

	tools := []struct {
		name    string
		bin     string
		list    string // shell command listing stdin
		extract string // shell command extracting stdin into the current directory
	}{
		{name: "gnu cpio", bin: "cpio", list: "cpio -t --quiet; cpio -t --quiet",
			extract: "cpio -idm --quiet -f dev/console; cpio -idmu --quiet -f dev/console"},
		{name: "bsdtar", bin: "bsdtar", list: "bsdtar -tf -", extract: "bsdtar -xf - --exclude dev/console"},
	}
	for _, tool := range tools {
		t.Run(tool.name, func(t *testing.T) {
			if _, err := exec.LookPath(tool.bin); err != nil {
				t.Skipf("%s not installed", tool.bin)
			}
			var listed []string
			out := t.TempDir()
			for _, input := range toolInputs(t, f, combined, tool.bin) {
				listed = append(listed, strings.Fields(run(t, "", input, tool.list))...)
				run(t, out, input, tool.extract)
			}
			checkListed(t, f, listed)
			checkExtracted(t, f, out)
		})
	}
}

// toolInputs is the combined file for GNU cpio, and each archive on its
// own for bsdtar, which reads one archive only.
func toolInputs(t *testing.T, f *fixture, combined, bin string) []string {
	if bin == "cpio" {
		return []string{combined}
	}
	l, err := Inspect(bytes.NewReader(f.combined), int64(len(f.combined)))
	if err != nil {
		t.Fatal(err)
	}
	var inputs []string
	for _, s := range l.Segments {
		name := filepath.Join(t.TempDir(), "segment")
		writeFile(t, name, f.combined[s.Offset:s.Offset+s.Size])
		inputs = append(inputs, name)
	}
	return inputs
}

func run(t *testing.T, dir, stdin, script string) string {
	t.Helper()
	in, err := os.Open(stdin)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir, cmd.Stdin = dir, in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("%s < %s: %v\n%s", script, stdin, err, stderr.String())
	}
	return string(out)
}

func checkListed(t *testing.T, f *fixture, listed []string) {
	t.Helper()
	got := map[string]bool{}
	for _, n := range listed {
		got["/"+strings.TrimSuffix(strings.TrimPrefix(n, "./"), "/")] = true
	}
	var missing []string
	for name := range f.files {
		if !got[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 || !got["/dev/console"] {
		t.Errorf("listing %v lacks %v (or /dev/console)", listed, missing)
	}
}

func checkExtracted(t *testing.T, f *fixture, dir string) {
	t.Helper()
	for name, want := range f.files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("extracted %s = %q, %v, want %q", name, got, err, want)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "takeover/config.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("extracted config.json mode = %v, %v, want 0600", fi.Mode(), err)
	}
}
