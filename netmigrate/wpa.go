package netmigrate

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// skipped is a network found in a source that is not carried over, with the
// reason said to the user.
type skipped struct {
	ssid   []byte
	source string
	reason string
}

// parseWPA reads the network={...} blocks of a wpa_supplicant.conf. It
// returns what a keyfile can express and, separately, what it cannot.
func parseWPA(data []byte, source string) ([]wifi, []skipped, error) {
	var nets []wifi
	var skips []skipped
	var block map[string]string
	start := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := wpaLine(sc.Text())
		switch {
		case line == "":
		case block == nil && strings.HasPrefix(line, "network={"):
			block, start = map[string]string{}, n
		case block == nil:
			// A global setting (ctrl_interface, country ...): not a network.
		case line == "}":
			w, reason, err := wpaNetwork(block, source)
			if err != nil {
				return nil, nil, fmt.Errorf("network block at line %d: %w", start, err)
			}
			if reason != "" {
				skips = append(skips, skipped{ssid: w.ssid, source: source, reason: reason})
			} else {
				nets = append(nets, w)
			}
			block = nil
		default:
			key, value, ok := strings.Cut(line, "=")
			if !ok {
				return nil, nil, fmt.Errorf("line %d: not a key=value line", n)
			}
			block[strings.TrimSpace(key)] = strings.TrimSpace(value)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", source, err)
	}
	if block != nil {
		return nil, nil, fmt.Errorf("network block at line %d has no closing brace", start)
	}
	return nets, skips, nil
}

// wpaLine trims a line and drops a '#' comment outside double quotes, as
// wpa_supplicant does.
func wpaLine(s string) string {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case '#':
			if !quoted {
				s = s[:i]
			}
		}
	}
	return strings.TrimSpace(s)
}

// wpaNetwork converts one block. A non-empty reason means the network is
// valid but cannot be carried; an error means the block is malformed.
func wpaNetwork(b map[string]string, source string) (wifi, string, error) {
	w := wifi{source: source}
	ssid, err := wpaString(b["ssid"])
	if err != nil {
		return w, "", fmt.Errorf("ssid: %w", err)
	}
	if len(ssid) == 0 || len(ssid) > 32 {
		return w, "", fmt.Errorf("ssid of %d bytes, want 1 to 32", len(ssid))
	}
	w.ssid = ssid
	if p, ok := b["priority"]; ok {
		if w.priority, err = strconv.Atoi(p); err != nil {
			return w, "", fmt.Errorf("priority %q: %w", p, err)
		}
	}
	if b["disabled"] == "1" {
		return w, "disabled in wpa_supplicant", nil
	}
	if m := b["mode"]; m != "" && m != "0" {
		return w, "not a client network (mode=" + m + ")", nil
	}
	reason, err := wpaSecurity(&w, b)
	return w, reason, err
}

func wpaSecurity(w *wifi, b map[string]string) (string, error) {
	mgmt := strings.Fields(b["key_mgmt"])
	// has matches a key_mgmt word by its parts: PSK matches WPA-PSK,
	// FT-PSK and WPA-PSK-SHA256.
	has := func(k string) bool {
		for _, m := range mgmt {
			if strings.Contains("-"+m+"-", "-"+k+"-") {
				return true
			}
		}
		return false
	}
	switch {
	case b["psk"] != "" && (len(mgmt) == 0 || has("PSK")):
		return "", wpaPSK(w, secWPAPSK, b["psk"])
	case b["sae_password"] != "" || (b["psk"] != "" && has("SAE")):
		v := b["sae_password"]
		if v == "" {
			v = b["psk"]
		}
		return "", wpaPSK(w, secSAE, v)
	case has("EAP") || has("IEEE8021X"):
		return wpaEAP(w, b)
	case has("NONE"):
		return wpaWEP(w, b)
	case len(mgmt) == 0:
		return "no psk and no key_mgmt: nothing to connect with", nil
	}
	return "key_mgmt " + b["key_mgmt"] + " has no keyfile equivalent", nil
}

// wpaPSK sets a passphrase (quoted, 8 to 63 characters) or a raw key (64
// hex digits, unquoted).
func wpaPSK(w *wifi, sec, v string) error {
	w.security = sec
	if strings.HasPrefix(v, `"`) {
		p, err := wpaString(v)
		if err != nil {
			return fmt.Errorf("psk: %w", err)
		}
		if len(p) < 8 || len(p) > 63 {
			return fmt.Errorf("psk passphrase of %d characters, want 8 to 63", len(p))
		}
		w.psk = string(p)
		return nil
	}
	if _, err := hex.DecodeString(v); err != nil || len(v) != 64 || sec == secSAE {
		return fmt.Errorf("psk is neither a quoted passphrase nor 64 hex digits")
	}
	w.psk = strings.ToLower(v)
	return nil
}

func wpaWEP(w *wifi, b map[string]string) (string, error) {
	idx := b["wep_tx_keyidx"]
	if idx == "" {
		idx = "0"
	}
	key, ok := b["wep_key"+idx]
	if !ok {
		return "", nil // key_mgmt=NONE without WEP keys: an open network
	}
	w.security, w.wepType = secWEP, 1
	if idx != "0" {
		return "WEP key index " + idx + " is not carried (only key 0)", nil
	}
	if strings.HasPrefix(key, `"`) {
		k, err := wpaString(key)
		if err != nil {
			return "", fmt.Errorf("wep_key0: %w", err)
		}
		w.wepKey = string(k)
		return "", nil
	}
	w.wepKey = key
	return "", nil
}

// certKeys name files a keyfile would have to point at; those files are not
// carried to balenaOS, so a network that needs one is skipped.
var certKeys = []string{
	"ca_cert", "ca_path", "client_cert", "private_key",
	"ca_cert2", "ca_path2", "client_cert2", "private_key2",
}

func wpaEAP(w *wifi, b map[string]string) (string, error) {
	for _, k := range certKeys {
		if b[k] != "" {
			return "EAP with " + k + ": certificate files are not carried", nil
		}
	}
	methods := strings.Fields(strings.ToLower(b["eap"]))
	if len(methods) == 0 {
		return "EAP without an eap method", nil
	}
	if m := methods[0]; m == "tls" || m == "sim" || m == "aka" {
		return "EAP-" + strings.ToUpper(m) + " needs certificates or a SIM", nil
	}
	if strings.HasPrefix(b["password"], "hash:") {
		return "EAP password stored as a hash has no keyfile equivalent", nil
	}
	e := &eapConfig{method: methods[0]}
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"identity", &e.identity},
		{"anonymous_identity", &e.anonymous},
		{"password", &e.password},
	} {
		v, err := wpaString(b[f.key])
		if err != nil {
			return "", fmt.Errorf("%s: %w", f.key, err)
		}
		*f.dst = string(v)
	}
	e.phase2Auth = phase2(b["phase2"])
	w.security, w.eap = secEAP, e
	return "", nil
}

// phase2 turns phase2="auth=MSCHAPV2" into mschapv2.
func phase2(v string) string {
	s, err := wpaString(v)
	if err != nil {
		return ""
	}
	for _, f := range strings.Fields(string(s)) {
		if a, ok := strings.CutPrefix(f, "auth="); ok {
			return strings.ToLower(a)
		}
		if a, ok := strings.CutPrefix(f, "autheap="); ok {
			return strings.ToLower(a)
		}
	}
	return ""
}

// wpaString decodes a wpa_supplicant string value: "quoted" (taken
// literally up to the last quote), P"printf-escaped" or hex digits.
func wpaString(v string) ([]byte, error) {
	switch {
	case v == "":
		return nil, nil
	case strings.HasPrefix(v, `P"`):
		if len(v) < 3 || !strings.HasSuffix(v, `"`) {
			return nil, fmt.Errorf("unterminated P\"\" string")
		}
		return unprintf(v[2 : len(v)-1])
	case strings.HasPrefix(v, `"`):
		end := strings.LastIndexByte(v, '"')
		if end == 0 {
			return nil, fmt.Errorf("unterminated quoted string")
		}
		return []byte(v[1:end]), nil
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		// hex's error quotes the offending character: this value may be a
		// secret, so say only what is wrong with it.
		return nil, errors.New("neither quoted nor hex")
	}
	return b, nil
}

// unprintf undoes the escapes wpa_supplicant allows in P"" strings.
func unprintf(s string) ([]byte, error) {
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			out = append(out, s[i])
			continue
		}
		if i++; i == len(s) {
			return nil, fmt.Errorf("trailing backslash")
		}
		switch c := s[i]; c {
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'e':
			out = append(out, 0x1b)
		case 'x':
			if i+3 > len(s) {
				return nil, fmt.Errorf("short \\x escape")
			}
			b, err := hex.DecodeString(s[i+1 : i+3])
			if err != nil {
				return nil, fmt.Errorf("bad \\x escape: %w", err)
			}
			out = append(out, b[0])
			i += 2
		default:
			out = append(out, c) // \\ and \" and anything else: the character itself
		}
	}
	return out, nil
}
