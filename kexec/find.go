package kexec

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sirupsen/logrus"
)

// piKernels are the Raspberry Pi firmware's default kernel names: Pi 3/4
// 64-bit, Pi 5, then the 32-bit ones. The version check picks the one
// running.
var piKernels = []string{
	"kernel8.img", "kernel_2712.img", "kernel7l.img", "kernel7.img", "kernel.img",
}

// Release returns the release of the running kernel ("6.1.0-18-amd64"), read
// from procRoot/version ("Linux version 6.1.0-18-amd64 (...) #1 SMP ...").
func Release(procRoot string) (string, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, "version"))
	if err != nil {
		return "", fmt.Errorf("reading the running kernel's version: %w", err)
	}
	v, ok := releaseAfterBanner(b)
	if !ok {
		return "", fmt.Errorf("reading the running kernel's version: no release in %q", b)
	}
	return v, nil
}

// FindKernel returns the path of the image of the running kernel, whose
// release is given, below the file system root. With override set (the
// --kernel flag) only that file is considered. Every image is checked
// against the release; an override without a readable version is accepted
// with a warning, anything else that does not match is refused.
func FindKernel(root, release, override string, log logrus.FieldLogger) (string, error) {
	if override != "" {
		return checkOverride(override, release, log)
	}
	var tried []string
	for _, c := range candidates(root, release) {
		path := filepath.Join(root, c)
		v, err := ReadVersion(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			tried = append(tried, err.Error())
		case v != release:
			tried = append(tried, fmt.Sprintf("%s is %s", c, v))
		default:
			log.WithField("kernel", path).Debug("found the running kernel's image")
			return path, nil
		}
	}
	if len(tried) == 0 {
		tried = []string{"no kernel image in the usual places"}
	}
	return "", fmt.Errorf("finding the image of the running kernel %s: %s; "+
		"pass its path with --kernel", release, strings.Join(tried, "; "))
}

func checkOverride(path, release string, log logrus.FieldLogger) (string, error) {
	v, err := ReadVersion(path)
	if errors.Is(err, ErrNoVersion) {
		log.WithFields(logrus.Fields{"kernel": path, "release": release}).
			Warn("kernel image has no readable version, trusting --kernel")
		return path, nil
	}
	if err != nil {
		return "", fmt.Errorf("checking --kernel: %w", err)
	}
	if v != release {
		return "", fmt.Errorf("checking --kernel: %s is release %s but %s is running; "+
			"kexec must boot the running kernel, whose modules go into the initramfs: "+
			"pass the image of %s with --kernel", path, v, release, release)
	}
	return path, nil
}

// candidates lists the places a distribution keeps the running kernel,
// relative to root, most specific first.
func candidates(root, release string) []string {
	c := []string{
		"/boot/vmlinuz-" + release,             // Debian, Ubuntu, Fedora
		"/lib/modules/" + release + "/vmlinuz", // Fedora, Arch (newer)
		"/usr/lib/modules/" + release + "/vmlinuz",
		"/boot/vmlinuz-linux",       // Arch
		"/run/booted-system/kernel", // NixOS
		"/boot/firmware/vmlinuz",    // Ubuntu on a Raspberry Pi
		"/boot/vmlinuz",             // symlink kept by some installers
	}
	for _, dir := range []string{"/boot/firmware", "/boot"} {
		for _, name := range piConfigKernels(filepath.Join(root, dir, "config.txt")) {
			c = append(c, filepath.Join(dir, name))
		}
		for _, name := range piKernels {
			c = append(c, filepath.Join(dir, name))
		}
	}
	// Any other vmlinuz-* (Arch's vmlinuz-linux-lts, renamed images): the
	// version check decides.
	others, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	sort.Strings(others)
	for _, o := range others {
		rel, err := filepath.Rel(root, o)
		if err == nil {
			c = append(c, "/"+rel)
		}
	}
	return dedup(c)
}

// piConfigKernels returns the kernel= values of a Raspberry Pi config.txt,
// in every section: which one the firmware used depends on the board, and
// the version check tells them apart.
// TODO: os_prefix= (a directory prefix for the kernel) is not followed; no
// Raspberry Pi OS release sets it.
func piConfigKernels(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var names []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		key, value, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(key) != "kernel" {
			continue
		}
		value = strings.TrimSpace(value)
		if value != "" && !strings.Contains(value, "..") {
			names = append(names, strings.TrimPrefix(value, "/"))
		}
	}
	return names
}

func dedup(list []string) []string {
	seen := make(map[string]bool, len(list))
	out := list[:0]
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
