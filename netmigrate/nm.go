package netmigrate

import (
	"fmt"
	"strings"
)

// Profile kinds.
const (
	kindWifi     = "wifi"
	kindEthernet = "ethernet"
)

// Group names of a NetworkManager keyfile, each with its older alias.
var (
	grpWifi     = []string{"wifi", "802-11-wireless"}
	grpSecurity = []string{"wifi-security", "802-11-wireless-security"}
	grp8021x    = []string{"802-1x"}
	grpConn     = []string{"connection"}
)

// nmProfile is a NetworkManager profile of the old OS, carried over with
// its own settings (static addresses, priorities, bindings) untouched.
type nmProfile struct {
	kf     *keyfile
	kind   string
	ssid   []byte // wifi only
	source string
	notes  []string // what was changed, for the log
}

// parseNM reads a NetworkManager keyfile. A non-empty reason means the
// profile is not carried; quiet says the reason is routine (not a warning).
func parseNM(data []byte, source string) (p *nmProfile, reason string, quiet bool, err error) {
	kf, err := parseKeyfile(data)
	if err != nil {
		return nil, "", false, fmt.Errorf("parsing %s: %w", source, err)
	}
	p = &nmProfile{kf: kf, source: source}
	switch t := kf.get("type", grpConn...); t {
	case "wifi", "802-11-wireless":
		p.kind = kindWifi
		reason, err = p.checkWifi()
		return p, reason, false, err
	case "ethernet", "802-3-ethernet":
		p.kind = kindEthernet
		if !isManual(kf, "ipv4") && !isManual(kf, "ipv6") {
			return p, "automatic addressing on ethernet is balenaOS's default", true, nil
		}
		return p, "", false, nil
	default:
		return p, "profile type " + t + " is not migrated", true, nil
	}
}

func isManual(kf *keyfile, g string) bool { return kf.get("method", g) == "manual" }

func (p *nmProfile) checkWifi() (string, error) {
	raw, ok := p.kf.raw("ssid", grpWifi...)
	if !ok || raw == "" {
		return "", fmt.Errorf("%s: wifi profile without ssid", p.source)
	}
	p.ssid = decodeSSID(raw)
	if m := p.kf.get("mode", grpWifi...); m != "" && m != "infrastructure" {
		return "wifi mode " + m + " is not a client network", nil
	}
	switch mgmt := p.kf.get("key-mgmt", grpSecurity...); mgmt {
	case "":
		return "", nil
	case "wpa-psk", "sae":
		return secretStored(p.kf, "psk", grpSecurity), nil
	case "wpa-eap", "wpa-eap-suite-b-192":
		return p.checkEAP(), nil
	case "none":
		if p.kf.get("wep-key0", grpSecurity...) == "" {
			return "", nil // key-mgmt=none without a key: open network
		}
		return secretStored(p.kf, "wep-key", grpSecurity), nil
	default:
		return "key-mgmt " + mgmt + " is not migrated", nil
	}
}

// secretStored reports why a secret is missing from the file, or "".
func secretStored(kf *keyfile, name string, groups []string) string {
	if f := kf.get(name+"-flags", groups...); f != "" && f != "0" {
		return name + " is kept by a secret agent (" + name + "-flags=" + f +
			"), not in the file"
	}
	key := name
	if name == "wep-key" {
		key = "wep-key0"
	}
	if kf.get(key, groups...) == "" {
		return name + " is not in the file"
	}
	return ""
}

// nmCertKeys point at files on the old OS that are not carried over.
var nmCertKeys = []string{
	"ca-cert", "ca-path", "client-cert", "private-key", "pac-file",
	"phase2-ca-cert", "phase2-ca-path", "phase2-client-cert", "phase2-private-key",
}

func (p *nmProfile) checkEAP() string {
	for _, k := range nmCertKeys {
		if v := p.kf.get(k, grp8021x...); v != "" && !strings.HasPrefix(v, "data:") {
			return "802-1x " + k + " points at a file that is not carried"
		}
	}
	if p.kf.get("eap", grp8021x...) == "" {
		return "802-1x without an eap method"
	}
	return secretStored(p.kf, "password", grp8021x)
}

// prepare removes what cannot work on balenaOS, and says what it removed.
func (p *nmProfile) prepare() {
	if p.kf.get("permissions", grpConn...) != "" {
		p.kf.del("permissions", grpConn...)
		p.notes = append(p.notes, "dropped user permissions (balenaOS has no such users)")
	}
	// A uuid copied from two sources (/etc and /run) would clash; without
	// one NetworkManager derives it from the file name.
	p.kf.del("uuid", grpConn...)
}

// keyfile renders the profile under the name id.
func (p *nmProfile) keyfile(id string) []byte {
	p.kf.setString("connection", "id", id)
	return p.kf.render("migrated by takeover from " + p.source)
}

// iface is the interface a profile is bound to, "" when any.
func (p *nmProfile) iface() string { return p.kf.get("interface-name", grpConn...) }
