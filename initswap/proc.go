package initswap

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// pfKthread is the kernel-thread bit of the flags in /proc/PID/stat.
const pfKthread = 0x00200000

// process is a process other than PID 1 that kill(-1) can reach.
type process struct {
	PID   int
	Comm  string
	State string
}

func (p process) String() string { return fmt.Sprintf("%d(%s,%s)", p.PID, p.Comm, p.State) }

// userProcesses lists the processes of procRoot other than PID 1 and
// kernel threads.
func userProcesses(procRoot string) ([]process, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	var procs []process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == 1 {
			continue
		}
		b, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		p, kthread, err := parseStat(string(b))
		if err != nil {
			return nil, fmt.Errorf("reading /proc/%d/stat: %w", pid, err)
		}
		if !kthread {
			procs = append(procs, p)
		}
	}
	return procs, nil
}

// parseStat reads pid, comm, state and the kernel-thread flag from a
// /proc/PID/stat line. comm may hold spaces and parentheses, so the fields
// are counted from the last ')'.
func parseStat(line string) (process, bool, error) {
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return process{}, false, fmt.Errorf("no (comm) in %q", line)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line[:open]))
	if err != nil {
		return process{}, false, fmt.Errorf("pid in %q: %w", line, err)
	}
	f := strings.Fields(line[end+1:])
	if len(f) < 7 {
		return process{}, false, fmt.Errorf("too few fields in %q", line)
	}
	flags, err := strconv.ParseUint(f[6], 10, 64)
	if err != nil {
		return process{}, false, fmt.Errorf("flags in %q: %w", line, err)
	}
	p := process{PID: pid, Comm: line[open+1 : end], State: f[0]}
	return p, flags&pfKthread != 0, nil
}

// mount is one line of /proc/self/mountinfo.
type mount struct {
	Point        string
	Major, Minor uint32
	FSType       string
	Source       string
}

func (m mount) String() string {
	return fmt.Sprintf("%s (%s %s %d:%d)", m.Point, m.FSType, m.Source, m.Major, m.Minor)
}

// parseMountinfo reads mountinfo lines.
func parseMountinfo(r io.Reader) ([]mount, error) {
	var mounts []mount
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := -1
		for i, s := range f {
			if s == "-" && i >= 6 {
				sep = i
				break
			}
		}
		if len(f) < 5 || sep < 0 || sep+2 >= len(f) {
			return nil, fmt.Errorf("parsing mountinfo line %q", sc.Text())
		}
		var maj, min uint32
		if _, err := fmt.Sscanf(f[2], "%d:%d", &maj, &min); err != nil {
			return nil, fmt.Errorf("parsing device %q of mountinfo: %w", f[2], err)
		}
		mounts = append(mounts, mount{Point: unescapeOctal(f[4]), Major: maj, Minor: min,
			FSType: f[sep+1], Source: unescapeOctal(f[sep+2])})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	}
	return mounts, nil
}

// under returns the mounts at dir or below it, deepest first, later
// mounts of a point before earlier ones: the order to unmount them.
func under(mounts []mount, dir string) []mount {
	var out []mount
	for i := len(mounts) - 1; i >= 0; i-- {
		m := mounts[i]
		if m.Point == dir || strings.HasPrefix(m.Point, dir+"/") {
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.Count(out[i].Point, "/") > strings.Count(out[j].Point, "/")
	})
	return out
}

// blockDevices are the distinct device numbers of mounts on block devices
// (major 0 is the kernel's anonymous devices: proc, tmpfs, ...).
// TODO: btrfs reports an anonymous 0:N here, so a btrfs root's disk is not
// waited for; stage2's exclusive open still refuses a disk in use.
func blockDevices(mounts []mount) []mount {
	seen := map[[2]uint32]bool{}
	var out []mount
	for _, m := range mounts {
		k := [2]uint32{m.Major, m.Minor}
		if m.Major == 0 || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, m)
	}
	return out
}

// readSwaps lists the active swap areas of procRoot/swaps.
func readSwaps(procRoot string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, "swaps"))
	if err != nil {
		return nil, fmt.Errorf("listing swap areas: %w", err)
	}
	var areas []string
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) == 0 {
			continue // the heading
		}
		areas = append(areas, unescapeOctal(f[0]))
	}
	return areas, nil
}

// unescapeOctal undoes the \040-style escapes of /proc/swaps and mountinfo.
func unescapeOctal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
