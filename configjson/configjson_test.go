package configjson

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	data, err := os.ReadFile("../testdata/config/valid.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse(valid.json) = %v", err)
	}
	if c.ApplicationID != 1301645 || c.DeviceType != "raspberrypi3" || c.VPNPort != 443 ||
		c.APIKey != "nothingtoseehere" || c.APIEndpoint != "https://api.balena-cloud.com" {
		t.Errorf("Parse(valid.json) = %+v", c)
	}
	if err := c.Validate(Require{APIKey: true, VPN: true}); err != nil {
		t.Errorf("Validate() = %v, want nil", err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{name: "bom", in: "\xEF\xBB\xBF{}", wantErr: "byte order mark"},
		{name: "not object", in: `[1,2]`, wantErr: "must be a JSON object"},
		{name: "trailing garbage", in: `{"a":1} x`, wantErr: "trailing data"},
		{name: "two objects", in: `{"a":1}{"b":2}`, wantErr: "trailing data"},
		{name: "truncated", in: `{"applicationId":1,"deviceType":"x"`, wantErr: "unexpected EOF"},
		{name: "empty", in: ``, wantErr: "unexpected EOF"},
		{name: "duplicate", in: `{"a":1,"a":2}`, wantErr: "appears twice"},
		{name: "appid wrong type", in: `{"applicationId":true}`, wantErr: "applicationId"},
		{name: "appid negative", in: `{"applicationId":-4}`, wantErr: "applicationId"},
		{name: "appid fraction", in: `{"applicationId":1.5}`, wantErr: "applicationId"},
		{name: "deviceType number", in: `{"deviceType":3}`, wantErr: `"deviceType" must be a string`},
		{name: "vpnPort words", in: `{"vpnPort":"four"}`, wantErr: "vpnPort"},
		{name: "bad json", in: `{"a":}`, wantErr: "invalid character"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: Parse(%q) = %v, want error containing %q", tt.name, tt.in, err, tt.wantErr)
		}
	}
}

func TestNumericStrings(t *testing.T) {
	c, err := Parse([]byte(`{"applicationId":"42","vpnPort":"443","deviceApiKey":"dk"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.ApplicationID != 42 || c.VPNPort != 443 || c.APIKey != "dk" {
		t.Errorf("Parse() = %+v, want appId 42, port 443, key from deviceApiKey", c)
	}
}

func TestValidateNamesMissing(t *testing.T) {
	c, err := Parse([]byte(`{"deviceType":"intel-nuc"}`))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate(Require{APIKey: true, VPN: true})
	for _, want := range []string{"applicationId", "apiEndpoint", "apiKey or deviceApiKey", "vpnEndpoint", "vpnPort"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %s", err, want)
		}
	}
}

func TestSetKeepsOrderAndUnknownKeys(t *testing.T) {
	in := `{"z":1,"deviceType":"a","nested":{"b":[1,2]},"apiKey":"s"}`
	c, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set("deviceType", "b"); err != nil {
		t.Fatal(err)
	}
	if err := c.Set("hostname", "pi"); err != nil {
		t.Fatal(err)
	}
	got := string(c.Marshal())
	want := `{"z":1,"deviceType":"b","nested":{"b":[1,2]},"apiKey":"s","hostname":"pi"}` + "\n"
	if got != want {
		t.Errorf("Marshal() = %s, want %s", got, want)
	}
	if c.DeviceType != "b" || c.Hostname != "pi" {
		t.Errorf("typed view not updated: %+v", c)
	}
}

func TestRedacted(t *testing.T) {
	c, err := Parse([]byte(`{"apiKey":"topsecret","deviceApiKey":"alsosecret","x":1}`))
	if err != nil {
		t.Fatal(err)
	}
	out := string(c.Redacted())
	if strings.Contains(out, "secret") {
		t.Errorf("Redacted() = %s, leaks a secret", out)
	}
	if len(c.Secrets()) != 2 {
		t.Errorf("Secrets() = %d values, want 2", len(c.Secrets()))
	}
	_, err = Parse([]byte(`{"apiKey":1}`))
	if err == nil || strings.Contains(err.Error(), "1}") {
		t.Errorf("Parse(apiKey number) = %v", err)
	}
}

func TestWriteAtomic0600(t *testing.T) {
	dir := t.TempDir()
	c, err := Parse([]byte(`{"applicationId":1}`))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.json")
	if err := c.Write(path); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", st.Mode().Perm())
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, c.Marshal()) {
		t.Errorf("file = %q, want %q", got, c.Marshal())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir has %d entries, want only config.json (temp file left behind)", len(entries))
	}
}

func FuzzParse(f *testing.F) {
	data, _ := os.ReadFile("../testdata/config/valid.json")
	f.Add(data)
	f.Add([]byte(`{"applicationId":"1","a":{"b":null}}`))
	f.Add([]byte("\xEF\xBB\xBF{}"))
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := Parse(in)
		if err != nil {
			return
		}
		// A parsed document must round-trip to an equivalent one.
		c2, err := Parse(c.Marshal())
		if err != nil {
			t.Fatalf("re-parsing Marshal() output: %v", err)
		}
		if !bytes.Equal(c.Marshal(), c2.Marshal()) {
			t.Fatalf("round trip differs: %s vs %s", c.Marshal(), c2.Marshal())
		}
	})
}
