package initswap

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       process
		kthread    bool
		wantErr    bool
	}{
		{name: "daemon", line: "412 (systemd-journal) S 1 412 412 0 -1 4194560 100 0 0 0",
			want: process{PID: 412, Comm: "systemd-journal", State: "S"}},
		{name: "comm with a parenthesis and spaces",
			line: "77 (a) b (c) Z 1 77 77 0 -1 4194304 0 0",
			want: process{PID: 77, Comm: "a) b (c", State: "Z"}},
		{name: "kernel thread", line: "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0",
			want: process{PID: 2, Comm: "kthreadd", State: "S"}, kthread: true},
		{name: "truncated", line: "5 (x) S 1 2", wantErr: true},
		{name: "no comm", line: "5 x S 1 2 3 4 5 6 7", wantErr: true},
	} {
		got, kthread, err := parseStat(tc.line)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: parseStat() error = %v, want error %v", tc.name, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && (got != tc.want || kthread != tc.kthread) {
			t.Errorf("%s: parseStat() = %+v, %v, want %+v, %v", tc.name, got, kthread,
				tc.want, tc.kthread)
		}
	}
}

func TestUserProcesses(t *testing.T) {
	proc := fakeTree(t, map[string]string{
		"1/stat":    "1 (takeover-swap) S 0 1 1 0 -1 4194560 0 0",
		"2/stat":    "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0",
		"30/stat":   "30 (kworker/0:1) I 2 0 0 0 -1 69238880 0 0",
		"412/stat":  "412 (sshd) S 1 412 412 0 -1 4194560 0 0",
		"977/stat":  "977 (apache2) D 1 977 977 0 -1 4194624 0 0",
		"self/stat": "977 (apache2) D 1 977 977 0 -1 4194624 0 0",
		"meminfo":   "MemTotal: 1 kB",
	})
	got, err := userProcesses(proc)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[412(sshd,S) 977(apache2,D)]"; fmt.Sprint(got) != want {
		t.Errorf("userProcesses() = %v, want %s", got, want)
	}
}

const mountinfo = `1 0 0:2 / / rw - rootfs rootfs rw
25 30 0:22 / /oldroot/sys rw,nosuid shared:7 - sysfs sysfs rw
26 30 0:23 / /oldroot/proc rw,nosuid shared:12 - proc proc rw
30 1 254:1 / /oldroot rw,relatime - ext4 /dev/vda1 rw
27 30 0:5 / /oldroot/dev rw,nosuid shared:2 - devtmpfs udev rw
31 26 0:31 / /oldroot/proc/sys/fs/binfmt_misc rw - autofs systemd-1 rw
40 30 254:1 /srv /oldroot/srv/my\040data rw - ext4 /dev/vda1 rw
41 30 8:17 / /oldroot/boot rw - vfat /dev/sdb1 rw
42 1 0:40 / /proc rw - proc proc rw
43 1 0:41 / /oldrootx rw - tmpfs tmpfs rw
`

func TestUnmountOrder(t *testing.T) {
	all, err := parseMountinfo(strings.NewReader(mountinfo))
	if err != nil {
		t.Fatal(err)
	}
	var points []string
	for _, m := range under(all, "/oldroot") {
		points = append(points, m.Point)
	}
	want := "/oldroot/proc/sys/fs/binfmt_misc /oldroot/srv/my data /oldroot/boot /oldroot/dev " +
		"/oldroot/proc /oldroot/sys /oldroot"
	if got := strings.Join(points, " "); got != want {
		t.Errorf("under(mounts, /oldroot) =\n%s\nwant\n%s", got, want)
	}
	var devs []string
	for _, m := range blockDevices(under(all, "/oldroot")) {
		devs = append(devs, fmt.Sprintf("%d:%d", m.Major, m.Minor))
	}
	if got, want := strings.Join(devs, " "), "254:1 8:17"; got != want {
		t.Errorf("blockDevices() = %s, want %s", got, want)
	}
}

func TestParseMountinfoRefuses(t *testing.T) {
	for _, line := range []string{"1 0 0:2 / /", "1 0 x / / rw - ext4 /dev/a rw"} {
		if _, err := parseMountinfo(strings.NewReader(line + "\n")); err == nil {
			t.Errorf("parseMountinfo(%q) = nil error, want one", line)
		}
	}
}

func TestReadSwaps(t *testing.T) {
	proc := t.TempDir()
	swaps := "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n" +
		"/dev/vda3                               partition\t1048572\t\t0\t\t-2\n" +
		"/var/swap\\040file                       file\t\t102396\t\t0\t\t-3\n"
	if err := os.WriteFile(filepath.Join(proc, "swaps"), []byte(swaps), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readSwaps(proc)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[/dev/vda3 /var/swap file]"; fmt.Sprint(got) != want {
		t.Errorf("readSwaps() = %v, want %s", got, want)
	}
}
