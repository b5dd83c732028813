// Package balenaapi talks to the balena API: the health check, the list of
// balenaOS versions for a device type, the device-type contract, the image
// download and the device PATCH calls. Every call but /ping carries the
// API key as a Bearer token; no error or log line ever contains that key.
package balenaapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/sirupsen/logrus"
)

// DefaultTimeout bounds an API call (and a stalled download) when
// Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Options configure a Client.
type Options struct {
	Endpoint string // config.json apiEndpoint, e.g. https://api.balena-cloud.com
	APIKey   string // config.json apiKey or deviceApiKey
	// RootCA is config.json balenaRootCA: base64 of a PEM bundle, may be empty.
	// It is added to the system roots; TLS is always verified.
	RootCA    string
	Timeout   time.Duration      // per API call, and the longest a download may stall
	Log       logrus.FieldLogger // nil: discard
	Transport http.RoundTripper  // nil: a default transport with RootCA; tests may inject
}

// Client is a balena API client. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	apiKey  string
	timeout time.Duration
	log     logrus.FieldLogger
	http    *http.Client
}

// New checks o and builds a Client. It makes no request.
func New(o Options) (*Client, error) {
	base, err := parseEndpoint(o.Endpoint)
	if err != nil {
		return nil, err
	}
	rt, err := transport(o.Transport, o.RootCA)
	if err != nil {
		return nil, err
	}
	c := &Client{base: base, apiKey: o.APIKey, timeout: o.Timeout, log: o.Log,
		http: &http.Client{Transport: rt}}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		c.log = l
	}
	return c, nil
}

// Endpoint returns the API base URL the client talks to.
func (c *Client) Endpoint() string { return c.base.String() }

func parseEndpoint(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(s, "/"))
	if err != nil {
		return nil, fmt.Errorf("parsing api endpoint %q: %w", s, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("parsing api endpoint %q: scheme must be https or http", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("parsing api endpoint %q: no host", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("parsing api endpoint %q: want scheme://host[:port][/path] only", s)
	}
	return u, nil
}

// transport returns the round tripper to use: rt, or a clone of
// http.DefaultTransport when rt is nil, trusting the system roots plus the
// CA of config.json balenaRootCA.
func transport(rt http.RoundTripper, rootCA string) (http.RoundTripper, error) {
	if rt == nil {
		rt = http.DefaultTransport
	}
	if t, ok := rt.(*http.Transport); ok && t.TLSClientConfig != nil &&
		t.TLSClientConfig.InsecureSkipVerify {
		return nil, errors.New("building api client: tls verification must stay on")
	}
	if rootCA == "" {
		return rt, nil
	}
	t, ok := rt.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("using balenaRootCA: transport %T is not an *http.Transport", rt)
	}
	pool, err := rootPool(rootCA)
	if err != nil {
		return nil, err
	}
	t = t.Clone()
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	t.TLSClientConfig.RootCAs = pool
	return t, nil
}

func rootPool(rootCA string) (*x509.CertPool, error) {
	pem, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rootCA))
	if err != nil {
		return nil, fmt.Errorf("decoding balenaRootCA: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("decoding balenaRootCA: no PEM certificate in it")
	}
	return pool, nil
}

// StatusError is an HTTP reply other than the one a call expects.
type StatusError struct {
	Op     string // what the call was doing, e.g. "listing os versions"
	Status int    // HTTP status code
	Body   string // start of the reply body, printable characters only
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s: http status %d %s", e.Op, e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Temporary reports whether retrying later might succeed (a 5xx reply).
func (e *StatusError) Temporary() bool { return e.Status >= 500 }

// ErrNotFound is matched by errors.Is for a 404 reply.
var ErrNotFound = errors.New("not found")

// Is makes errors.Is(err, ErrNotFound) true for a 404 reply.
func (e *StatusError) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

func statusError(op string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return &StatusError{Op: op, Status: resp.StatusCode, Body: snippet(b)}
}

// snippet keeps the first 200 printable characters of a reply body.
func snippet(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, string(b))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// request builds a request for an escaped path and an encoded query,
// both sent exactly as given.
func (c *Client) request(ctx context.Context, method, path, rawQuery string,
	body any) (*http.Request, error) {
	target := c.base.String() + path
	if rawQuery != "" {
		target += "?" + rawQuery
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding request body: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("building %s request: %w", method, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if path != "/ping" && c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	return req, nil
}

// call sends req within the client timeout, checks for a 2xx reply and
// decodes a JSON body into out (out may be nil to discard the body).
func (c *Client) call(op string, req *http.Request, out any) error {
	ctx, cancel := context.WithTimeout(req.Context(), c.timeout)
	defer cancel()
	c.log.WithFields(logrus.Fields{"method": req.Method, "path": req.URL.Path}).Debug("api call")
	resp, err := c.http.Do(req.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return statusError(op, resp)
	}
	if out == nil {
		if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)); err != nil {
			return fmt.Errorf("%s: reading reply: %w", op, err)
		}
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(out); err != nil {
		return fmt.Errorf("%s: decoding reply: %w", op, err)
	}
	return nil
}
