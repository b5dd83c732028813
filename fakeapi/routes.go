package fakeapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
)

var (
	releaseSlugRE = regexp.MustCompile(`iodt/slug eq '([^']*)'`)
	aliasRE       = regexp.MustCompile(`is_referenced_by__alias eq '([^']*)'`)
	devicePathRE  = regexp.MustCompile(`^/v6/device\(uuid='([0-9a-f]{32,62})'\)$`)
	downloadSzRE  = regexp.MustCompile(`^/device-types/v1/([^/]+)/images/([^/]+)/download-size$`)
)

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/ping" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "OK")
	case p == "/v6/release" && r.Method == http.MethodGet:
		s.release(w, r)
	case p == "/v6/device_type" && r.Method == http.MethodGet:
		s.deviceType(w, r)
	case p == "/download" && (r.Method == http.MethodPost || r.Method == http.MethodGet):
		s.download(w, r)
	case devicePathRE.MatchString(p) && r.Method == http.MethodPatch:
		s.patchDevice(w, r)
	case downloadSzRE.MatchString(p) && r.Method == http.MethodGet:
		s.downloadSize(w, r)
	default:
		http.Error(w, "Not Found", http.StatusNotFound)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (s *Server) release(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	m := releaseSlugRE.FindStringSubmatch(q.Get("$filter"))
	if q.Get("$select") != "raw_version" || m == nil {
		http.Error(w, "fake api: want $select=raw_version and an iodt/slug filter",
			http.StatusBadRequest)
		return
	}
	d := []map[string]string{}
	for _, v := range s.versions(m[1]) {
		d = append(d, map[string]string{"raw_version": v})
	}
	writeJSON(w, map[string]any{"d": d})
}

func (s *Server) deviceType(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	m := aliasRE.FindStringSubmatch(q.Get("$filter"))
	if m == nil {
		http.Error(w, "fake api: want an is_referenced_by__alias filter", http.StatusBadRequest)
		return
	}
	d := []map[string]any{}
	if c, ok := s.contract(m[1]); ok {
		row := map[string]any{}
		for _, field := range strings.Split(q.Get("$select"), ",") {
			switch field {
			case "id":
				row["id"] = c.ID
			case "slug":
				row["slug"] = c.Slug
			case "name":
				row["name"] = c.Name
			case "contract":
				row["contract"] = c.contractJSON()
			}
		}
		d = append(d, row)
	}
	writeJSON(w, map[string]any{"d": d})
}

func (s *Server) patchDevice(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body) == 0 {
		http.Error(w, "fake api: want a JSON object body", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprint(w, "OK")
}

func (s *Server) downloadSize(w http.ResponseWriter, r *http.Request) {
	m := downloadSzRE.FindStringSubmatch(r.URL.Path)
	path := s.imagePath(m[1], m[2], false)
	if path == "" {
		http.Error(w, "No such image", http.StatusNotFound)
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, map[string]int64{"size": fi.Size()})
}

// downloadParams are the fields of POST /download (JSON) or GET /download.
type downloadParams struct {
	DeviceType string  `json:"deviceType"`
	Version    string  `json:"version"`
	FileType   string  `json:"fileType"`
	ImageType  *string `json:"imageType"`
}

func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	p, err := readDownloadParams(r)
	if err != nil {
		http.Error(w, "fake api: "+err.Error(), http.StatusBadRequest)
		return
	}
	path, status, msg := s.pickImage(p)
	if path == "" {
		http.Error(w, msg, status)
		return
	}
	s.serveImage(w, r, path)
}

func readDownloadParams(r *http.Request) (downloadParams, error) {
	var p downloadParams
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			return p, fmt.Errorf("decoding body: %w", err)
		}
	} else {
		q := r.URL.Query()
		p = downloadParams{DeviceType: q.Get("deviceType"), Version: q.Get("version"),
			FileType: q.Get("fileType")}
		if q.Has("imageType") {
			it := q.Get("imageType")
			p.ImageType = &it
		}
	}
	if p.DeviceType == "" || p.Version == "" {
		return p, fmt.Errorf("deviceType and version are required")
	}
	if p.FileType != ".gz" {
		return p, fmt.Errorf("fileType %q: the fake serves .gz only", p.FileType)
	}
	return p, nil
}

// pickImage finds the file for p: the raw image for imageType raw or for a
// non-flasher, the flasher image otherwise.
func (s *Server) pickImage(p downloadParams) (path string, status int, msg string) {
	c, ok := s.contract(p.DeviceType)
	if !ok {
		return "", http.StatusNotFound, "No such device type"
	}
	raw := p.ImageType != nil && *p.ImageType == "raw"
	if p.ImageType != nil && !raw && *p.ImageType != "flasher" {
		return "", http.StatusBadRequest, "imageType must be raw, flasher or null"
	}
	if !raw && c.Flasher() {
		if path := s.imagePath(c.Slug, p.Version, true); path != "" {
			return path, 0, ""
		}
		return "", http.StatusNotFound,
			"fake api has no flasher image of " + c.Slug + " " + p.Version + " (ask for raw)"
	}
	if path := s.imagePath(c.Slug, p.Version, false); path != "" {
		return path, 0, ""
	}
	return "", http.StatusNotFound, "No such version"
}
