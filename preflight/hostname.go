package preflight

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Hostname returns the running system's host name, to be kept in
// config.json. It refuses names balenaOS should not inherit: anything that
// is not an RFC 1123 host name, and the placeholders "localhost" and
// "(none)" (the kernel's name before one was set).
func Hostname(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(rootOr(root), "proc/sys/kernel/hostname"))
	if err != nil {
		return "", fmt.Errorf("reading host name: %w", err)
	}
	name := strings.TrimSpace(string(b))
	if err := validHostname(name); err != nil {
		return "", fmt.Errorf("host name %q: %w", name, err)
	}
	return name, nil
}

func validHostname(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty")
	case name == "localhost" || strings.HasPrefix(name, "localhost."):
		return fmt.Errorf("a placeholder, not worth keeping")
	case len(name) > 64:
		return fmt.Errorf("longer than the kernel's 64 characters")
	}
	for _, label := range strings.Split(name, ".") {
		if err := validLabel(label); err != nil {
			return err
		}
	}
	return nil
}

func validLabel(l string) error {
	if l == "" || len(l) > 63 {
		return fmt.Errorf("label %q: want 1 to 63 characters", l)
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return fmt.Errorf("label %q starts or ends with '-'", l)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("label %q has %q: want letters, digits and '-'", l, c)
		}
	}
	return nil
}

// CheckHostname says whether name is worth carrying into config.json.
func CheckHostname(name string) error {
	if err := validHostname(name); err != nil {
		return fmt.Errorf("host name %q: %w", name, err)
	}
	return nil
}
