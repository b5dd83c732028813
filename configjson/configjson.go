// Package configjson reads, checks and rewrites a balena config.json.
//
// It keeps every key it does not know and the order of all keys, so that a
// rewrite (hostname, deviceType) changes nothing else. Secrets (apiKey,
// deviceApiKey) never leave through String, errors or logs.
package configjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Config is a parsed config.json: typed views of the keys takeover needs
// over the ordered raw document.
type Config struct {
	ApplicationID int64
	DeviceType    string
	APIEndpoint   string
	APIKey        string // apiKey, else deviceApiKey
	VPNEndpoint   string
	VPNPort       int
	UUID          string
	RootCA        string // balenaRootCA, base64 PEM
	Hostname      string

	keys []string
	raw  map[string]json.RawMessage
}

// secretKeys are never printed.
var secretKeys = map[string]bool{"apiKey": true, "deviceApiKey": true, "wifiKey": true}

// Load reads and parses path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config.json: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	return c, nil
}

// Parse parses a config.json document. It refuses a byte order mark,
// duplicate keys, trailing data and wrong types of the keys it reads.
func Parse(data []byte) (*Config, error) {
	if bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}) {
		return nil, errors.New("file starts with a UTF-8 byte order mark; save it without one")
	}
	keys, raw, err := parseObject(data)
	if err != nil {
		return nil, err
	}
	c := &Config{keys: keys, raw: raw}
	if err := c.decodeKnown(); err != nil {
		return nil, err
	}
	return c, nil
}

func parseObject(data []byte) ([]string, map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, fmt.Errorf("reading JSON: %w", noEOF(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, errors.New("config.json must be a JSON object")
	}
	var keys []string
	raw := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("reading key: %w", noEOF(err))
		}
		key := tok.(string) // inside an object the decoder only yields string keys
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, fmt.Errorf("reading value of %q: %w", key, noEOF(err))
		}
		if _, dup := raw[key]; dup {
			return nil, nil, fmt.Errorf("key %q appears twice", key)
		}
		keys = append(keys, key)
		raw[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("reading end of object: %w", noEOF(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, errors.New("trailing data after the JSON object")
	}
	return keys, raw, nil
}

// noEOF turns a premature io.EOF into an error that says so: a truncated
// file must never read as complete.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (c *Config) decodeKnown() error {
	var err error
	if c.ApplicationID, err = c.int64Field("applicationId"); err != nil {
		return err
	}
	port, err := c.int64Field("vpnPort")
	if err != nil {
		return err
	}
	c.VPNPort = int(port)
	for _, f := range []struct {
		key string
		dst *string
	}{
		{key: "deviceType", dst: &c.DeviceType},
		{key: "apiEndpoint", dst: &c.APIEndpoint},
		{key: "vpnEndpoint", dst: &c.VPNEndpoint},
		{key: "uuid", dst: &c.UUID},
		{key: "balenaRootCA", dst: &c.RootCA},
		{key: "hostname", dst: &c.Hostname},
	} {
		if *f.dst, err = c.stringField(f.key); err != nil {
			return err
		}
	}
	if c.APIKey, err = c.stringField("apiKey"); err != nil {
		return err
	}
	if c.APIKey == "" {
		if c.APIKey, err = c.stringField("deviceApiKey"); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) stringField(key string) (string, error) {
	v, ok := c.raw[key]
	if !ok || string(v) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("key %q must be a string", key)
	}
	return s, nil
}

// int64Field accepts a number or a numeric string, as the original does.
func (c *Config) int64Field(key string) (int64, error) {
	v, ok := c.raw[key]
	if !ok || string(v) == "null" {
		return 0, nil
	}
	s := string(v)
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(v, &s); err != nil {
			return 0, fmt.Errorf("key %q: %w", key, err)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("key %q must be a non-negative whole number, got %s", key, redactValue(key, v))
	}
	return n, nil
}

// Require is what a migration needs from config.json.
type Require struct {
	APIKey bool // downloads and API calls
	VPN    bool // the VPN check
}

// Validate checks the keys a migration needs, naming each missing one.
func (c *Config) Validate(r Require) error {
	var missing []string
	if !c.Has("applicationId") {
		missing = append(missing, "applicationId")
	}
	if c.DeviceType == "" {
		missing = append(missing, "deviceType")
	}
	if c.APIEndpoint == "" {
		missing = append(missing, "apiEndpoint")
	}
	if r.APIKey && c.APIKey == "" {
		missing = append(missing, "apiKey or deviceApiKey")
	}
	if r.VPN && c.VPNEndpoint == "" {
		missing = append(missing, "vpnEndpoint (or pass --no-vpn-check)")
	}
	if r.VPN && c.VPNPort == 0 {
		missing = append(missing, "vpnPort (or pass --no-vpn-check)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("config.json lacks %s; download a fresh one from the balena dashboard",
			strings.Join(missing, ", "))
	}
	return nil
}

// Has reports whether key is present.
func (c *Config) Has(key string) bool { _, ok := c.raw[key]; return ok }

// Set replaces key's value in place, or appends the key at the end.
func (c *Config) Set(key string, value any) error {
	v, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("encoding %q: %w", key, err)
	}
	if _, ok := c.raw[key]; !ok {
		c.keys = append(c.keys, key)
	}
	c.raw[key] = v
	return c.decodeKnown()
}

// Marshal returns the document with the original key order.
func (c *Config) Marshal() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range c.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k) // a string always encodes
		b.Write(kb)
		b.WriteByte(':')
		b.Write(compact(c.raw[k]))
	}
	b.WriteString("}\n")
	return b.Bytes()
}

func compact(v json.RawMessage) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return v
	}
	return b.Bytes()
}

// Write writes the document to path atomically with mode 0600.
func (c *Config) Write(path string) error {
	return WriteFileAtomic(path, c.Marshal(), 0o600)
}

// WriteFileAtomic writes data to a temporary file beside path, syncs it and
// renames it over path, so a reader never sees half a file.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("creating temporary file for %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("setting mode of %s: %w", tmp.Name(), err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("renaming into %s: %w", path, err)
	}
	return nil
}

// Redacted returns the document with secret values replaced, for printing.
func (c *Config) Redacted() []byte {
	r := &Config{keys: c.keys, raw: map[string]json.RawMessage{}}
	for _, k := range c.keys {
		r.raw[k] = c.raw[k]
		if secretKeys[k] {
			r.raw[k] = json.RawMessage(`"<redacted>"`)
		}
	}
	return r.Marshal()
}

// Secrets returns the secret values in the document, for log redaction.
func (c *Config) Secrets() []string {
	var out []string
	for k := range secretKeys {
		var s string
		if v, ok := c.raw[k]; ok && json.Unmarshal(v, &s) == nil && s != "" {
			out = append(out, s)
		}
	}
	return out
}

func redactValue(key string, v json.RawMessage) string {
	if secretKeys[key] {
		return "<redacted>"
	}
	return string(v)
}
