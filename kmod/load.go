package kmod

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/sirupsen/logrus"
	"github.com/ulikunitz/xz"
)

// maxModuleSize bounds a decompressed module (the largest in-tree modules
// are tens of MiB).
const maxModuleSize = 256 << 20

// LoadAll loads modules in the given order. A relative path is taken
// inside dir, an absolute one as it is. The first failure stops it, naming
// the module; its errno stays reachable with errors.Is.
func LoadAll(dir string, mods []string, log logrus.FieldLogger) error {
	for _, m := range mods {
		p := m
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, m)
		}
		start := time.Now()
		if err := Load(p, ""); err != nil {
			return err
		}
		if log != nil {
			log.WithField("module", nameFromPath(p)).
				WithField("duration", time.Since(start).Round(time.Millisecond)).
				Debug("module loaded")
		}
	}
	return nil
}

// compressed reports whether a module file needs decompressing first.
func compressed(path string) bool {
	return !strings.HasSuffix(path, ".ko")
}

// readModule returns a module's contents, decompressed according to its
// name: .ko.gz, .ko.xz or .ko.zst.
func readModule(f *os.File) ([]byte, error) {
	var r io.Reader
	var err error
	switch name := f.Name(); {
	case strings.HasSuffix(name, ".ko.gz"):
		r, err = gzip.NewReader(f)
	case strings.HasSuffix(name, ".ko.xz"):
		r, err = xz.NewReader(f)
	case strings.HasSuffix(name, ".ko.zst"):
		var zr *zstd.Decoder
		zr, err = zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
		if err == nil {
			defer zr.Close()
			r = zr
		}
	default:
		return nil, fmt.Errorf("%s: not a .ko, .ko.gz, .ko.xz or .ko.zst file", name)
	}
	if err != nil {
		return nil, fmt.Errorf("decompressing %s: %w", f.Name(), err)
	}

	data, err := io.ReadAll(io.LimitReader(r, maxModuleSize+1))
	if err != nil {
		return nil, fmt.Errorf("decompressing %s: %w", f.Name(), err)
	}
	if len(data) > maxModuleSize {
		return nil, fmt.Errorf("decompressing %s: more than %d bytes", f.Name(), maxModuleSize)
	}
	return data, nil
}

// errnoHint explains the errnos module loading commonly gives.
func errnoHint(err error) string {
	switch {
	case errors.Is(err, errENOENT):
		return " (an unknown symbol: a dependency is not loaded; see dmesg)"
	case errors.Is(err, errENOEXEC):
		return " (invalid module format: built for another kernel?)"
	case errors.Is(err, errEPERM), errors.Is(err, errEKEYREJECTED):
		return " (module loading disabled or signature refused; see dmesg)"
	}
	return ""
}
