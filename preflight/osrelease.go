package preflight

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// OSRelease is what the check reads from os-release(5).
type OSRelease struct {
	ID         string
	VersionID  string
	PrettyName string
	RaspiOS    bool // Raspberry Pi OS, which may call itself debian
}

// supportedOS maps an os-release ID to its oldest supported VERSION_ID and
// a display name. Older releases lack what the migration relies on (a
// kernel with kexec_file_load or a working systemd re-exec) or are out of
// support; anything else is refused unless --no-os-check.
var supportedOS = map[string]struct {
	min  string
	name string
}{
	"debian":    {min: "10", name: "Debian"},
	"raspbian":  {min: "10", name: "Raspberry Pi OS"},
	"ubuntu":    {min: "18.04", name: "Ubuntu"},
	"balena-os": {min: "2", name: "balenaOS"},
}

// ReadOSRelease reads /etc/os-release, or /usr/lib/os-release where the
// first is missing, as os-release(5) says.
func ReadOSRelease(root string) (OSRelease, error) {
	root = rootOr(root)
	var data []byte
	var err error
	for _, p := range []string{"etc/os-release", "usr/lib/os-release"} {
		data, err = os.ReadFile(filepath.Join(root, p))
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return OSRelease{}, fmt.Errorf("reading os-release: %w", err)
	}
	kv := parseOSRelease(data)
	rel := OSRelease{ID: kv["ID"], VersionID: kv["VERSION_ID"], PrettyName: kv["PRETTY_NAME"]}
	if _, err := os.Stat(filepath.Join(root, "etc/rpi-issue")); err == nil || rel.ID == "raspbian" {
		rel.RaspiOS = true
	}
	return rel, nil
}

// parseOSRelease reads KEY=value lines; values may be single- or
// double-quoted, with backslash escapes inside double quotes.
func parseOSRelease(data []byte) map[string]string {
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		kv[k] = unquote(v)
	}
	return kv
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return v
	}
	v = v[1 : len(v)-1]
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

func checkOS(_ context.Context, o Options) Check {
	return downgrade(osCheck(o.Root), o.NoOSCheck, "--no-os-check")
}

func osCheck(root string) Check {
	c := Check{Name: "os", Status: StatusFail,
		Fix: "pass --no-os-check to try an OS takeover was not tested on"}
	rel, err := ReadOSRelease(root)
	if err != nil {
		c.Detail = err.Error()
		return c
	}
	name := rel.PrettyName
	if name == "" {
		name = rel.ID + " " + rel.VersionID
	}
	sup, ok := supportedOS[rel.ID]
	switch {
	case !ok:
		c.Detail = fmt.Sprintf("%s (ID=%s) is not a supported OS (Debian >= 10, "+
			"Ubuntu >= 18.04, Raspberry Pi OS >= 10, balenaOS)", name, rel.ID)
	case rel.VersionID == "":
		c.Detail = fmt.Sprintf("%s has no VERSION_ID (a testing or unstable release)", name)
	case versionLess(rel.VersionID, sup.min):
		c.Detail = fmt.Sprintf("%s is older than %s %s", name, sup.name, sup.min)
	default:
		c.Status, c.Fix = StatusOK, ""
		c.Detail = name
		if rel.RaspiOS && rel.ID == "debian" {
			c.Detail += " (Raspberry Pi OS)"
		}
	}
	return c
}

// versionLess compares dotted numeric versions ("18.04" < "20.04",
// "9" < "10"). A part that is not a number compares as 0.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		x, y := part(pa, i), part(pb, i)
		if x != y {
			return x < y
		}
	}
	return false
}

func part(p []string, i int) int {
	if i >= len(p) {
		return 0
	}
	n, err := strconv.Atoi(p[i])
	if err != nil {
		return 0
	}
	return n
}
