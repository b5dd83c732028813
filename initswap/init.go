package initswap

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Kinds of init that can be made to re-execute.
const (
	kindSystemd  = "systemd"
	kindSysvinit = "sysvinit"
)

// initProcess is the running init and how to make it re-execute.
type initProcess struct {
	Exe  string   // its executable, absolute, symbolic links resolved
	Kind string   // kindSystemd or kindSysvinit
	Tool string   // systemctl or telinit, absolute
	Args []string // arguments to Tool
	// ToolIsInit is set when telinit is the init binary itself (Devuan):
	// once takeover is bound over init, it must run from a copy.
	ToolIsInit bool
}

// findInit reads which executable PID 1 runs and finds the tool that
// makes it re-execute. root is the file system root, procRoot procfs.
func findInit(root, procRoot string) (initProcess, error) {
	link, err := os.Readlink(filepath.Join(procRoot, "1", "exe"))
	if err != nil {
		return initProcess{}, fmt.Errorf("finding PID 1's executable: %w", err)
	}
	exe := strings.TrimSuffix(link, " (deleted)")
	resolved, err := resolve(root, exe)
	if err != nil {
		return initProcess{}, fmt.Errorf("finding PID 1's executable %s "+
			"(replaced by an upgrade since boot? reboot first): %w", exe, err)
	}
	p := initProcess{Exe: resolved}
	switch path.Base(resolved) {
	case "systemd":
		p.Kind = kindSystemd
		p.Tool, err = findTool(root, "systemctl")
		p.Args = []string{"daemon-reexec"}
	case "init", "upstart":
		p.Kind = kindSysvinit
		p.Tool, err = findTool(root, "telinit")
		p.Args = []string{"u"}
	default:
		return initProcess{}, fmt.Errorf("PID 1 runs %s: the init swap can make only systemd "+
			"and sysvinit-compatible inits re-execute; use a kernel with kexec", resolved)
	}
	if err != nil {
		return initProcess{}, err
	}
	tool, err := resolve(root, p.Tool)
	if err != nil {
		return initProcess{}, fmt.Errorf("resolving %s: %w", p.Tool, err)
	}
	p.ToolIsInit = tool == resolved
	return p, nil
}

// toolDirs are searched in order for systemctl and telinit.
var toolDirs = []string{"/usr/bin", "/bin", "/usr/sbin", "/sbin"}

func findTool(root, name string) (string, error) {
	for _, d := range toolDirs {
		p := path.Join(d, name)
		if st, err := os.Stat(filepath.Join(root, p)); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("finding %s in %s: not found; it is needed to make init re-execute",
		name, strings.Join(toolDirs, ", "))
}

// resolve resolves symbolic links in the absolute path p inside root
// (links are taken as relative to root, as the kernel would inside it).
func resolve(root, p string) (string, error) {
	cur := "/"
	rest := strings.Split(strings.Trim(path.Clean(p), "/"), "/")
	for hops := 0; len(rest) > 0; {
		name := rest[0]
		rest = rest[1:]
		next := path.Join(cur, name)
		st, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if st.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", errors.New("too many levels of symbolic links")
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		rest = append(strings.Split(strings.Trim(target, "/"), "/"), rest...)
	}
	return cur, nil
}
