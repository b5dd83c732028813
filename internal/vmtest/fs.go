package vmtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// File is a file to put into an ext4 file system.
type File struct {
	Path string // absolute path inside the file system
	Data []byte
	Mode os.FileMode // permission bits; 0644 when zero
	// Source, when set, is a host file copied instead of Data (large files).
	Source string
}

// InjectExt4 writes files into the ext4 file system that starts at byte
// offset of the disk image, with debugfs -w: no mount, no loop device, no
// root needed. Missing parent directories are created; existing files are
// replaced.
func InjectExt4(disk string, offset int64, files []File) error {
	staging, err := os.MkdirTemp("", "vmtest-inject-")
	if err != nil {
		return fmt.Errorf("injecting files into %s: %w", disk, err)
	}
	defer os.RemoveAll(staging)
	script, err := injectScript(staging, files)
	if err != nil {
		return fmt.Errorf("injecting files into %s: %w", disk, err)
	}
	if _, err := debugfs(disk, offset, true, script); err != nil {
		return fmt.Errorf("injecting files into %s: %w", disk, err)
	}
	return nil
}

// injectScript writes each file's data to staging and returns the debugfs
// commands that copy them in.
func injectScript(staging string, files []File) (string, error) {
	var b strings.Builder
	for _, dir := range parentDirs(files) {
		fmt.Fprintf(&b, "mkdir %s\n", dir)
	}
	for i, f := range files {
		src := f.Source
		if src == "" {
			src = filepath.Join(staging, fmt.Sprint(i))
			if err := os.WriteFile(src, f.Data, 0o600); err != nil {
				return "", err
			}
		}
		mode := f.Mode.Perm()
		if mode == 0 {
			mode = 0o644
		}
		fmt.Fprintf(&b, "rm %s\nwrite %s %s\nsif %s mode 0%o\n",
			f.Path, src, f.Path, f.Path, 0o100000|uint32(mode))
	}
	return b.String(), nil
}

// parentDirs lists every directory the files need, parents first.
func parentDirs(files []File) []string {
	set := map[string]bool{}
	for _, f := range files {
		for d := path.Dir(f.Path); d != "/" && d != "."; d = path.Dir(d) {
			set[d] = true
		}
	}
	dirs := make([]string, 0, len(set))
	for d := range set {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool {
		return strings.Count(dirs[i], "/") < strings.Count(dirs[j], "/")
	})
	return dirs
}

// ReadExt4 returns a file from the ext4 file system at byte offset of disk.
func ReadExt4(disk string, offset int64, name string) ([]byte, error) {
	out, err := debugfs(disk, offset, false, "cat "+name)
	if err != nil {
		return nil, fmt.Errorf("reading %s from ext4 at %d in %s: %w", name, offset, disk, err)
	}
	return out, nil
}

// ListExt4 lists a directory of the ext4 file system at byte offset of disk.
func ListExt4(disk string, offset int64, dir string) (string, error) {
	out, err := debugfs(disk, offset, false, "ls -l "+dir)
	if err != nil {
		return "", fmt.Errorf("listing %s in ext4 at %d in %s: %w", dir, offset, disk, err)
	}
	return string(out), nil
}

// debugfs runs debugfs on the file system at offset: a read-only single
// request, or (write) a script of commands. It fails on any error debugfs
// reports, except the expected ones of an idempotent script (a directory
// that exists, a file to replace that does not).
func debugfs(disk string, offset int64, write bool, commands string) ([]byte, error) {
	args := []string{"-R", commands}
	if write {
		args = []string{"-w", "-f", "-"}
	}
	args = append(args, fmt.Sprintf("%s?offset=%d", disk, offset))
	cmd := exec.Command("debugfs", args...)
	if write {
		cmd.Stdin = strings.NewReader(commands)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("debugfs: %w: %s", err, stderr.String())
	}
	if msg := debugfsErrors(stderr.String()); msg != "" {
		return nil, fmt.Errorf("debugfs: %s", msg)
	}
	return stdout.Bytes(), nil
}

func debugfsErrors(stderr string) string {
	var bad []string
	for _, l := range strings.Split(stderr, "\n") {
		switch {
		case l == "", strings.HasPrefix(l, "debugfs "):
		case strings.HasPrefix(l, "ext2fs_mkdir: Ext2 directory already exists"),
			strings.HasPrefix(l, "mkdir: Ext2 directory already exists"),
			strings.HasPrefix(l, "rm: File not found by ext2_lookup"):
		case strings.HasPrefix(l, "Allocated inode: "):
		default:
			bad = append(bad, l)
		}
	}
	return strings.Join(bad, "; ")
}

// ReadVFAT returns a file from the FAT file system at byte offset of disk,
// with mtools (mtype).
func ReadVFAT(disk string, offset int64, name string) ([]byte, error) {
	cmd := exec.Command("mtype", "-i", fmt.Sprintf("%s@@%d", disk, offset), "::"+name)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("reading %s from vfat at %d in %s: %w: %s",
			name, offset, disk, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// CopySparse copies a disk image, keeping holes, so each VM gets its own
// file (QEMU locks its disks).
func CopySparse(src, dst string) error {
	out, err := exec.Command("cp", "--sparse=always", src, dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("copying %s to %s: %w: %s", src, dst, err, out)
	}
	return nil
}
