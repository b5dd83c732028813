package stage2init

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/takeover-dev/takeover/plan"
)

// writeFiles writes each file of the plan into its partition, one mount per
// partition, in the plan's order.
func (r *run) writeFiles(context.Context) error {
	var order []string
	byPart := map[string][]plan.File{}
	for _, f := range r.payload.Files {
		if _, ok := byPart[f.Partition]; !ok {
			order = append(order, f.Partition)
		}
		byPart[f.Partition] = append(byPart[f.Partition], f)
	}
	for _, name := range order {
		if err := r.writeInto(r.parts[name], byPart[name]); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) writeInto(p part, files []plan.File) (err error) {
	root, err := r.mount(p)
	if err != nil {
		return err
	}
	defer func() {
		if uerr := r.sys.Unmount(root); uerr != nil && err == nil {
			err = uerr
		}
	}()
	for _, f := range files {
		if err := writeFile(root, f); err != nil {
			return fmt.Errorf("writing %s into %s: %w", f.Target, p.Name, err)
		}
		r.log.WithField("file", f.Target).WithField("partition", p.Name).Info("file written")
	}
	return nil
}

// writeFile copies f.Source to f.Target under root with f.Mode and syncs it.
func writeFile(root string, f plan.File) error {
	dst, err := inside(root, f.Target)
	if err != nil {
		return err
	}
	src, err := os.Open(f.Source)
	if err != nil {
		return err
	}
	defer src.Close()
	return writeSynced(dst, os.O_TRUNC, os.FileMode(f.Mode&0o777), src)
}

// inside joins a target path to root, refusing one that climbs out.
func inside(root, target string) (string, error) {
	clean := filepath.Clean("/" + target)
	if clean == "/" || slices.Contains(strings.Split(target, "/"), "..") {
		return "", fmt.Errorf("target path %q is not a file inside the partition", target)
	}
	return filepath.Join(root, clean), nil
}

// writeSynced writes r to path (created with its parents), fsyncs the file
// and its directory.
func writeSynced(path string, flag int, mode os.FileMode, r io.Reader) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|flag, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
