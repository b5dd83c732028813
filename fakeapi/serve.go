package fakeapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const htmlPage = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>" +
	"<body><h1>Please sign in to this network</h1></body></html>\n"

// serveImage sends the file at path, honouring a single Range unless a
// fault says otherwise.
func (s *Server) serveImage(w http.ResponseWriter, r *http.Request, path string) {
	f := s.takeFault()
	switch {
	case f.failStatus != 0:
		http.Error(w, "fake api: injected failure", f.failStatus)
		return
	case f.htmlPage:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, htmlPage)
		return
	case f.wrongImage != "":
		path = f.wrongImage
	}
	file, err := os.Open(path)
	if err != nil {
		http.Error(w, "fake api: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		http.Error(w, "fake api: "+err.Error(), http.StatusInternalServerError)
		return
	}
	size := fi.Size()
	start, end, status := int64(0), size-1, http.StatusOK
	h := w.Header()
	h.Set("Accept-Ranges", "bytes")
	if f.noRange {
		h.Set("Accept-Ranges", "none")
	} else if rng := r.Header.Get("Range"); rng != "" {
		var ok bool
		if start, end, ok = parseRange(rng, size); !ok {
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			http.Error(w, "Range Not Satisfiable", http.StatusRequestedRangeNotSatisfiable)
			return
		}
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, size))
	}
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", "attachment; filename="+strconv.Quote(filepath.Base(path)))
	h.Set("Content-Length", strconv.FormatInt(end-start+1, 10))
	w.WriteHeader(status)
	s.sendBody(w, r, io.NewSectionReader(file, start, end-start+1), f)
}

// parseRange reads "bytes=first-" or "bytes=first-last" against size.
func parseRange(h string, size int64) (first, last int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	a, b, dash := strings.Cut(spec, "-")
	if !found || !dash || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 || first >= size {
		return 0, 0, false
	}
	last = size - 1
	if b != "" {
		l, err := strconv.ParseInt(b, 10, 64)
		if err != nil || l < first {
			return 0, 0, false
		}
		last = min(l, size-1)
	}
	return first, last, true
}

// sendBody copies body to w, slowed to the fault's rate, and aborts the
// connection after the fault's cut, so the client sees a short body.
func (s *Server) sendBody(w http.ResponseWriter, r *http.Request, body io.Reader,
	f downloadFault) {
	if f.cutAfter > 0 {
		body = io.LimitReader(body, f.cutAfter)
	}
	chunk := int64(32 << 10)
	tick := time.Duration(0)
	if f.rate > 0 {
		chunk = max(f.rate/10, 1)
		tick = time.Second * time.Duration(chunk) / time.Duration(f.rate)
	}
	flusher, _ := w.(http.Flusher)
	for {
		n, err := io.CopyN(w, body, chunk)
		if n > 0 && flusher != nil {
			flusher.Flush()
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return // the client went away
		}
		if tick > 0 {
			select {
			case <-time.After(tick):
			case <-r.Context().Done():
				return
			}
		}
	}
	if f.cutAfter > 0 {
		panic(http.ErrAbortHandler) // drop the connection mid-body
	}
}
