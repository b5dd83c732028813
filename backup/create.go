package backup

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/sirupsen/logrus"
)

// Options tune Create.
type Options struct {
	Log logrus.FieldLogger
}

// Summary says what went into the archive.
type Summary struct {
	Files      int   // regular files
	Bytes      int64 // their content, before compression
	Compressed int64 // size of the archive written
}

// Create writes the archive that cfg describes to out (mode 0600). It writes
// out.part first and renames it only when the archive is complete, so out
// is never a truncated archive.
//
// An item's source is resolved once (a symlinked source directory is
// followed, as the user named it); below it symlinks are stored as symlinks
// and not followed, so a link to / cannot pull the whole disk in. Regular
// files keep their mode, owner and modification time. Devices, FIFOs and
// sockets are skipped with a warning.
func Create(cfg Config, out string, o Options) (Summary, error) {
	log := o.Log
	if log == nil {
		log = discard()
	}
	part := out + ".part"
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return Summary{}, fmt.Errorf("creating backup archive: %w", err)
	}
	a := newArchiver(f, log, out, part)
	err = a.writeAll(cfg)
	if err == nil {
		err = a.close()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing %s: %w", part, cerr)
	}
	if err != nil {
		os.Remove(part)
		return Summary{}, err
	}
	if err := os.Rename(part, out); err != nil {
		os.Remove(part)
		return Summary{}, fmt.Errorf("renaming backup archive: %w", err)
	}
	a.sum.Compressed = a.out.n
	log.WithFields(logrus.Fields{"file": out, "files": a.sum.Files, "bytes": a.sum.Bytes,
		"compressed": a.sum.Compressed}).Info("backup written")
	return a.sum, nil
}

type archiver struct {
	file  *os.File
	out   *countWriter
	gz    *gzip.Writer
	tw    *tar.Writer
	skip  map[string]bool // the archive being written and its final name
	paths map[string]bool // archive paths written, to refuse collisions
	sum   Summary
	log   logrus.FieldLogger
	now   time.Time
}

func newArchiver(f *os.File, log logrus.FieldLogger, skip ...string) *archiver {
	cw := &countWriter{w: f}
	gz := gzip.NewWriter(cw)
	a := &archiver{file: f, out: cw, gz: gz, tw: tar.NewWriter(gz), skip: map[string]bool{},
		paths: map[string]bool{}, log: log, now: time.Now()}
	for _, p := range skip {
		a.skip[resolved(p)] = true
	}
	return a
}

// resolved returns p as a walk of a resolved source would meet it.
func resolved(p string) string {
	dir, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		return p
	}
	abs, err := filepath.Abs(filepath.Join(dir, filepath.Base(p)))
	if err != nil {
		return p
	}
	return abs
}

func (a *archiver) writeAll(cfg Config) error {
	for _, v := range cfg.Volumes {
		if err := a.dir(v.Name); err != nil {
			return err
		}
		for _, it := range v.Items {
			if err := a.item(v.Name, it); err != nil {
				return fmt.Errorf("backing up %s into volume %q: %w", it.Source, v.Name, err)
			}
		}
	}
	return nil
}

// close finishes the tar and gzip streams and flushes the file to disk.
func (a *archiver) close() error {
	if err := a.tw.Close(); err != nil {
		return fmt.Errorf("finishing tar stream: %w", err)
	}
	if err := a.gz.Close(); err != nil {
		return fmt.Errorf("finishing gzip stream: %w", err)
	}
	if err := a.file.Sync(); err != nil {
		return fmt.Errorf("syncing backup archive: %w", err)
	}
	return nil
}

// dir adds a directory entry made up by the archive (a volume or a target
// directory), once.
func (a *archiver) dir(name string) error {
	name += "/"
	if a.paths[name] {
		return nil
	}
	a.paths[name] = true
	hdr := &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: a.now}
	if err := a.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

// parents adds the made-up directories between the volume and name.
func (a *archiver) parents(name string) error {
	dir := path.Dir(name)
	if dir == "." || a.paths[dir+"/"] {
		return nil
	}
	if err := a.parents(dir); err != nil {
		return err
	}
	return a.dir(dir)
}

func (a *archiver) item(volume string, it Item) error {
	src, err := filepath.EvalSymlinks(it.Source)
	if err != nil {
		return fmt.Errorf("resolving source: %w", err)
	}
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("reading source: %w", err)
	}
	base := path.Join(volume, it.Target)
	if !fi.IsDir() {
		return a.entry(src, path.Join(base, filepath.Base(src)), fi, it)
	}
	if err := a.parents(base + "/x"); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walking source: %w", err)
		}
		if p == src {
			return nil
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return fmt.Errorf("placing %s: %w", p, err)
		}
		fi, err := d.Info()
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		return a.entry(p, path.Join(base, filepath.ToSlash(rel)), fi, it)
	})
}

// entry adds one file system object at name. Directories are added as they
// come when nothing is filtered; with a filter only those on the way to a
// kept file are, so a filter does not leave a tree of empty directories.
func (a *archiver) entry(src, name string, fi fs.FileInfo, it Item) error {
	if a.skip[src] {
		return nil
	}
	mode := fi.Mode()
	switch {
	case mode.IsDir():
		if it.Filter != nil {
			return nil
		}
		return a.header(name+"/", fi, "")
	case mode&fs.ModeSymlink != 0:
		if it.Filter != nil && !it.Filter.MatchString(src) {
			return nil
		}
		target, err := os.Readlink(src)
		if err != nil {
			return fmt.Errorf("reading symlink: %w", err)
		}
		return a.header(name, fi, target)
	case mode.IsRegular():
		if it.Filter != nil && !it.Filter.MatchString(src) {
			return nil
		}
		return a.copyFile(src, name, fi)
	default:
		a.log.WithFields(logrus.Fields{"file": src, "mode": mode.String()}).
			Warn("skipping special file in backup")
		return nil
	}
}

func (a *archiver) header(name string, fi fs.FileInfo, link string) error {
	if a.paths[name] {
		if fi.IsDir() {
			return nil
		}
		return fmt.Errorf("two items write %s: give them different targets", name)
	}
	if err := a.parents(strings.TrimSuffix(name, "/")); err != nil {
		return err
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return fmt.Errorf("making tar header for %s: %w", name, err)
	}
	hdr.Name = name
	a.paths[name] = true
	if err := a.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

func (a *archiver) copyFile(src, name string, fi fs.FileInfo) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("opening file: %w", err)
	}
	defer f.Close()
	if err := a.header(name, fi, ""); err != nil {
		return err
	}
	n, err := io.CopyN(a.tw, f, fi.Size())
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("reading %s: file shrank from %d to %d bytes while archived",
			src, fi.Size(), n)
	}
	if err != nil {
		return fmt.Errorf("archiving %s: %w", src, err)
	}
	a.sum.Files++
	a.sum.Bytes += n
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func discard() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}
