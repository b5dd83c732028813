// Package fakeapi is a fake balena API for tests and demos: /ping, the
// /v6/release and /v6/device_type queries takeover makes, POST and GET
// /download serving gzip images from a directory (with Range), PATCH
// /v6/device, the download-size hint, and a plain TCP listener standing in
// for the VPN. It records every request and injects faults on demand. It
// only ever listens on loopback addresses.
package fakeapi

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Options configure a Server.
type Options struct {
	// ImagesDir holds the images, named {slug}-{version}.img.gz (the raw
	// image) and optionally {slug}-{version}.flasher.img.gz. A slug's
	// version list is made of the files present plus Versions[slug].
	ImagesDir  string
	Versions   map[string][]string // extra listed versions without a file
	Contracts  []Contract          // nil: DefaultContracts()
	APIKey     string              // non-empty: other keys get 401 (but on /ping)
	TLS        bool                // serve https with a CA of its own, see CACertPEM
	RequestLog io.Writer           // non-nil: one JSON line per request
	Log        logrus.FieldLogger  // nil: discard
}

// Request is one request the server answered.
type Request struct {
	Time     time.Time  `json:"time"`
	Method   string     `json:"method"`
	Path     string     `json:"path"`
	RawQuery string     `json:"rawQuery,omitempty"`
	Query    url.Values `json:"query,omitempty"`
	Body     string     `json:"body,omitempty"`
	Auth     string     `json:"auth,omitempty"` // the Authorization header
	Range    string     `json:"range,omitempty"`
	Status   int        `json:"status"`
}

// Server is a running fake API.
type Server struct {
	o      Options
	log    logrus.FieldLogger
	tlsCfg *tls.Config
	caPEM  []byte

	mu       sync.Mutex
	requests []Request
	fault    Fault
	http     *http.Server
	vpn      net.Listener
	vpnConns int
}

// New checks o and prepares a Server; Start makes it listen.
func New(o Options) (*Server, error) {
	if o.Contracts == nil {
		o.Contracts = DefaultContracts()
	}
	s := &Server{o: o, log: o.Log}
	if s.log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		s.log = l
	}
	if o.TLS {
		cfg, caPEM, err := selfSignedTLS()
		if err != nil {
			return nil, err
		}
		s.tlsCfg, s.caPEM = cfg, caPEM
	}
	return s, nil
}

// CACertPEM returns the PEM of the CA that signed the server's certificate
// (nil without TLS). config.json balenaRootCA is its base64.
func (s *Server) CACertPEM() []byte { return s.caPEM }

// Start listens on addr, a loopback address such as 127.0.0.1:0, and
// returns the base URL, e.g. http://127.0.0.1:41234.
func (s *Server) Start(addr string) (string, error) {
	ln, err := listenLoopback(addr)
	if err != nil {
		return "", err
	}
	scheme := "http"
	if s.tlsCfg != nil {
		ln = tls.NewListener(ln, s.tlsCfg)
		scheme = "https"
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: stdlog.New(io.Discard, "", 0)} // handshake noise from CA tests
	s.mu.Lock()
	s.http = srv
	s.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.WithError(err).Warn("fake api stopped serving")
		}
	}()
	return scheme + "://" + ln.Addr().String(), nil
}

// listenLoopback listens on addr after checking that it is a loopback
// address, before and after name resolution.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("parsing listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("listening on %q: only loopback addresses are allowed", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %q: %w", addr, err)
	}
	if ta, ok := ln.Addr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("listening on %q: resolved to %v, not loopback", addr, ln.Addr())
	}
	return ln, nil
}

// Close stops the API and the VPN listener.
func (s *Server) Close() error {
	s.mu.Lock()
	srv, vpn := s.http, s.vpn
	s.mu.Unlock()
	var errs []error
	if srv != nil {
		errs = append(errs, srv.Close())
	}
	if vpn != nil {
		errs = append(errs, vpn.Close())
	}
	return errors.Join(errs...)
}

// Requests returns a copy of every request answered so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ServeHTTP records the request, checks the key and routes it. The
// request is on record before the reply starts, its status once it ends.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	i := s.record(Request{Time: time.Now(), Method: r.Method, Path: r.URL.Path,
		RawQuery: r.URL.RawQuery, Query: r.URL.Query(), Body: string(body),
		Auth: r.Header.Get("Authorization"), Range: r.Header.Get("Range")})
	defer s.finish(i, sw) // also when a fault aborts the handler
	if s.o.APIKey != "" && r.URL.Path != "/ping" &&
		r.Header.Get("Authorization") != "Bearer "+s.o.APIKey {
		http.Error(sw, "Unauthorized", http.StatusUnauthorized)
		return
	}
	s.route(sw, r)
}

func (s *Server) record(req Request) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
	return len(s.requests) - 1
}

// finish notes the status of request i and logs it.
func (s *Server) finish(i int, sw *statusWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[i].Status = sw.status
	req := s.requests[i]
	s.log.WithFields(logrus.Fields{"method": req.Method, "path": req.Path,
		"status": req.Status}).Debug("fake api request")
	if s.o.RequestLog == nil {
		return
	}
	var line bytes.Buffer
	enc := json.NewEncoder(&line)
	enc.SetEscapeHTML(false) // keep & in queries readable for shell harnesses
	err := enc.Encode(req)
	if err == nil {
		_, err = s.o.RequestLog.Write(line.Bytes())
	}
	if err != nil {
		s.log.WithError(err).Warn("writing request log")
	}
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
