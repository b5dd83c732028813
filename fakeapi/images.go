package fakeapi

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

const (
	rawSuffix     = ".img.gz"
	flasherSuffix = ".flasher.img.gz"
)

// image is one image file in ImagesDir.
type image struct {
	slug, version string
	flasher       bool
	path          string
	modTime       int64
}

// images lists the image files present now, newest first (the API lists
// releases by created_at desc; the file time stands in for it).
func (s *Server) images() []image {
	if s.o.ImagesDir == "" {
		return nil
	}
	entries, err := os.ReadDir(s.o.ImagesDir)
	if err != nil {
		s.log.WithError(err).Warn("reading images directory")
		return nil
	}
	var out []image
	for _, e := range entries {
		im, ok := parseImageName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if fi, err := e.Info(); err == nil {
			im.modTime = fi.ModTime().UnixNano()
		}
		im.path = filepath.Join(s.o.ImagesDir, e.Name())
		out = append(out, im)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].modTime > out[j].modTime })
	return out
}

// parseImageName splits "raspberrypi4-64-5.1.20+rev1.img.gz" at the first
// dash whose remainder is a strict semver version.
func parseImageName(name string) (image, bool) {
	var im image
	switch {
	case strings.HasSuffix(name, flasherSuffix):
		im.flasher, name = true, strings.TrimSuffix(name, flasherSuffix)
	case strings.HasSuffix(name, rawSuffix):
		name = strings.TrimSuffix(name, rawSuffix)
	default:
		return im, false
	}
	for i := 1; i < len(name)-1; i++ {
		if name[i] != '-' {
			continue
		}
		if _, err := semver.StrictNewVersion(name[i+1:]); err == nil {
			im.slug, im.version = name[:i], name[i+1:]
			return im, true
		}
	}
	return im, false
}

// versions lists the versions of slug: raw image files, then the extra
// listed ones, without duplicates.
func (s *Server) versions(slug string) []string {
	var out []string
	for _, im := range s.images() {
		if im.slug == slug && !im.flasher && !slices.Contains(out, im.version) {
			out = append(out, im.version)
		}
	}
	for _, v := range s.o.Versions[slug] {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// imagePath finds the file of slug at version, "" when there is none.
func (s *Server) imagePath(slug, version string, flasher bool) string {
	for _, im := range s.images() {
		if im.slug == slug && im.version == version && im.flasher == flasher {
			return im.path
		}
	}
	return ""
}
