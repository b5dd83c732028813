package testimage

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// Tools are the host programs Build needs.
var Tools = []string{"sfdisk", "mkfs.vfat", "mcopy", "mmd", "mke2fs"}

// MissingTools returns the tools of Tools not found in PATH, so tests can
// skip with a reason.
func MissingTools() []string {
	var missing []string
	for _, t := range Tools {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	return missing
}

// FileName is the name Build gives the image for o.
func FileName(o Options) string {
	o, _ = o.withDefaults()
	name := fmt.Sprintf("balena-%s-%s-%s", o.DeviceType, o.Version, o.Table)
	if o.Flasher {
		name += "-flasher"
	}
	if o.Gzip {
		return name + ".img.gz"
	}
	return name + ".img"
}

// Build writes the image described by o into dir under FileName(o) and
// returns its path.
func Build(dir string, o Options) (string, error) {
	path := filepath.Join(dir, FileName(o))
	return path, Write(path, o)
}

// Write builds the image described by o at path; with o.Gzip the file at
// path is gzip-compressed.
func Write(path string, o Options) error {
	o, err := o.withDefaults()
	if err != nil {
		return fmt.Errorf("building test image: %w", err)
	}
	parts, err := Layout(o)
	if err != nil {
		return fmt.Errorf("building test image: %w", err)
	}
	work, err := os.MkdirTemp(filepath.Dir(path), ".testimage-*")
	if err != nil {
		return fmt.Errorf("building test image: %w", err)
	}
	defer os.RemoveAll(work)

	raw := path
	if o.Gzip {
		raw = filepath.Join(work, "raw.img")
	}
	if err := buildRaw(raw, work, o, parts); err != nil {
		return fmt.Errorf("building test image %s: %w", path, err)
	}
	if o.Gzip {
		if err := gzipFile(raw, path); err != nil {
			return fmt.Errorf("compressing test image %s: %w", path, err)
		}
	}
	return nil
}

func buildRaw(raw, work string, o Options, parts []Partition) error {
	f, err := os.Create(raw)
	if err != nil {
		return err
	}
	if err := f.Truncate(o.Size); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := partition(raw, o, parts); err != nil {
		return err
	}
	for _, p := range parts {
		if err := makeFS(raw, work, o, p); err != nil {
			return fmt.Errorf("making %s on partition %d: %w", p.FSType, p.Number, err)
		}
	}
	return nil
}

// partition writes the table with sfdisk.
func partition(raw string, o Options, parts []Partition) error {
	var s strings.Builder
	label := map[string]string{"mbr": "dos", "gpt": "gpt"}[o.Table]
	fmt.Fprintf(&s, "label: %s\nunit: sectors\n", label)
	if o.Table == "gpt" {
	}
	for _, p := range parts {
		fmt.Fprintf(&s, "start=%d, size=%d, type=%s", p.Start/512, p.Size/512, p.Type)
		if o.Table == "gpt" {
			fmt.Fprintf(&s, ", name=%s", p.Label)
		}
		if p.Number == 1 && o.Table == "mbr" {
			s.WriteString(", bootable")
		}
		s.WriteString("\n")
	}
	return run(strings.NewReader(s.String()), "sfdisk", "-q", "--no-reread", "--no-tell-kernel", raw)
}

func makeFS(raw, work string, o Options, p Partition) error {
	switch p.FSType {
	case "vfat":
		return makeBoot(raw, work, o, p)
	case "ext4":
		dir, err := stageExt(work, o, p)
		if err != nil {
			return err
		}
		args := []string{"-q", "-F", "-t", "ext4", "-L", p.Label,
			"-E", fmt.Sprintf("offset=%d", p.Start)}
		if dir != "" {
			args = append(args, "-d", dir)
		}
		args = append(args, raw, fmt.Sprintf("%dk", p.Size/1024))
		return run(nil, "mke2fs", args...)
	}
	return nil
}

// stageExt fills a staging directory for an ext4 partition, or returns ""
// when it stays empty.
func stageExt(work string, o Options, p Partition) (string, error) {
	dir := filepath.Join(work, p.Label)
	switch {
	case strings.HasSuffix(p.Label, "-rootA"):
		return dir, stageRoot(dir, o)
	case strings.HasSuffix(p.Label, "-data") && o.DataFill > 0:
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		return dir, writeFiller(filepath.Join(dir, "filler.bin"), o.DataFill)
	}
	return "", nil
}

func run(stdin io.Reader, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdin = stdin
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1", "LC_ALL=C")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("running %s %s: %w: %s", name, strings.Join(args, " "), err,
			strings.TrimSpace(out.String()))
	}
	return nil
}

func gzipFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(out)
	if _, err := io.Copy(zw, in); err != nil {
		out.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
