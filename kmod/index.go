package kmod

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// index is what depmod and the kernel build wrote about the modules of one
// kernel release.
type index struct {
	dir     string
	dep     map[string]depEntry // module name -> path and dependencies
	builtin map[string]bool     // names of modules built into the kernel
	aliases []alias             // modules.alias, in file order
}

type depEntry struct {
	path string   // relative to dir
	deps []string // names, as modules.dep lists them (load right to left)
}

type alias struct {
	pattern string // fnmatch pattern, e.g. virtio:d00000002v*
	module  string
}

// loadIndex reads modules.dep (required), modules.builtin and modules.alias.
func loadIndex(dir string) (*index, error) {
	ix := &index{dir: dir, builtin: map[string]bool{}}
	var err error
	if ix.dep, err = readDep(filepath.Join(dir, "modules.dep")); err != nil {
		return nil, err
	}
	if err := readOptional(filepath.Join(dir, "modules.builtin"), ix.readBuiltin); err != nil {
		return nil, err
	}
	if err := readOptional(filepath.Join(dir, "modules.alias"), ix.readAliases); err != nil {
		return nil, err
	}
	return ix, nil
}

func readDep(name string) (map[string]depEntry, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("reading module dependencies: %w", err)
	}
	defer f.Close()
	dep, err := parseDep(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return dep, nil
}

// parseDep parses modules.dep: "path: dep-path dep-path ..." per line.
func parseDep(r io.Reader) (map[string]depEntry, error) {
	dep := map[string]depEntry{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		mod, deps, ok := strings.Cut(text, ":")
		if !ok || strings.TrimSpace(mod) == "" {
			return nil, fmt.Errorf("line %d: no \"module:\" prefix", line)
		}
		e := depEntry{path: strings.TrimSpace(mod)}
		for _, d := range strings.Fields(deps) {
			e.deps = append(e.deps, nameFromPath(d))
		}
		dep[nameFromPath(e.path)] = e
	}
	return dep, sc.Err()
}

// readOptional runs parse on a file that older kernels may not have.
func readOptional(name string, parse func(io.Reader) error) error {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading module index: %w", err)
	}
	defer f.Close()
	if err := parse(f); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	return nil
}

// readBuiltin parses modules.builtin: one path per line.
func (ix *index) readBuiltin(r io.Reader) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if p := strings.TrimSpace(sc.Text()); p != "" {
			ix.builtin[nameFromPath(p)] = true
		}
	}
	return sc.Err()
}

// readAliases parses modules.alias: "alias PATTERN MODULE" per line.
func (ix *index) readAliases(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "alias" {
			ix.aliases = append(ix.aliases, alias{pattern: f[1], module: moduleName(f[2])})
		}
	}
	return sc.Err()
}

// lookupAlias returns the modules whose alias pattern matches modalias.
func (ix *index) lookupAlias(modalias string) []string {
	var mods []string
	seen := map[string]bool{}
	for _, a := range ix.aliases {
		if !seen[a.module] && fnmatch(a.pattern, modalias) {
			seen[a.module] = true
			mods = append(mods, a.module)
		}
	}
	return mods
}

// fnmatch matches name against a shell pattern with *, ? and [...] classes,
// as modprobe does for aliases ('/' is an ordinary character). It keeps one
// backtrack point (the last star), so it runs in O(len(pattern)*len(name)).
func fnmatch(pattern, name string) bool {
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		if p < len(pattern) && pattern[p] == '*' {
			star, mark = p, n
			p++
			continue
		}
		if width, ok := matchOne(pattern[p:], name[n]); ok {
			p += width
			n++
			continue
		}
		if star < 0 {
			return false
		}
		mark++
		p, n = star+1, mark
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchOne matches one character c against the start of pattern (not a
// star) and returns how many pattern bytes that took.
func matchOne(pattern string, c byte) (int, bool) {
	if pattern == "" {
		return 0, false
	}
	switch pattern[0] {
	case '?':
		return 1, true
	case '[':
		end := strings.IndexByte(pattern[1:], ']')
		if end < 0 {
			return 1, c == '['
		}
		return end + 2, inClass(pattern[1:1+end], c)
	}
	return 1, pattern[0] == c
}

// inClass reports whether c is in a bracket class like "a-z0-9" or "!x".
func inClass(class string, c byte) bool {
	negate := strings.HasPrefix(class, "!") || strings.HasPrefix(class, "^")
	if negate {
		class = class[1:]
	}
	match := false
	for i := 0; i < len(class); i++ {
		if i+2 < len(class) && class[i+1] == '-' {
			match = match || (class[i] <= c && c <= class[i+2])
			i += 2
			continue
		}
		match = match || class[i] == c
	}
	return match != negate
}
