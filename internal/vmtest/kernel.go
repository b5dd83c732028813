package vmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// CacheDir is where scripts/fetch-kernel.sh and the harness keep what they
// build: $TAKEOVER_CACHE, else ~/.cache/takeover.
func CacheDir() string {
	if dir := os.Getenv("TAKEOVER_CACHE"); dir != "" {
		return dir
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "takeover")
}

// FetchedKernel returns Debian's cloud kernel image and its modules
// directory as scripts/fetch-kernel.sh unpacks them into CacheDir. The
// error says how to get them; tests skip with it.
func FetchedKernel() (vmlinuz, modulesDir string, err error) {
	cache := CacheDir()
	kernels, _ := filepath.Glob(filepath.Join(cache, "linux-image-*", "boot", "vmlinuz-*"))
	deps, _ := filepath.Glob(filepath.Join(cache, "linux-image-*", "lib", "modules", "*", "modules.dep"))
	if len(kernels) == 0 || len(deps) == 0 {
		return "", "", fmt.Errorf("no kernel in %s: run scripts/fetch-kernel.sh %s", cache, cache)
	}
	return kernels[0], filepath.Dir(deps[0]), nil
}

// BuildInit builds the Go package pkg (relative to the current directory,
// e.g. ./testdata/vminit) as a static linux/amd64 binary at out, to serve
// as a test VM's /init.
func BuildInit(pkg, out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %w\n%s", pkg, err, b)
	}
	return nil
}
