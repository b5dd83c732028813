package netmigrate

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// parseConnman reads one connman service settings file
// (/var/lib/connman/wifi_<mac>_<ssid hex>_managed_<security>/settings).
// service is the directory name, whose last part names the security.
func parseConnman(data []byte, service, source string) ([]wifi, []skipped, error) {
	kf, err := parseKeyfile(data)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing %s: %w", source, err)
	}
	w := wifi{source: source}
	if h := kf.get("SSID", service); h != "" {
		if w.ssid, err = hex.DecodeString(h); err != nil {
			return nil, nil, fmt.Errorf("SSID %q in %s: %w", h, source, err)
		}
	} else {
		w.ssid = []byte(kf.get("Name", service))
	}
	if len(w.ssid) == 0 || len(w.ssid) > 32 {
		return nil, nil, fmt.Errorf("%s: SSID of %d bytes, want 1 to 32", source, len(w.ssid))
	}
	// TODO: carry IPv4.method=manual (IPv4.local_address, netmask_prefixlen,
	// gateway) too; only DHCP Wi-Fi is carried from connman for now.
	reason, err := connmanSecurity(&w, kf.get("Passphrase", service), service)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", source, err)
	}
	if reason != "" {
		return nil, []skipped{{ssid: w.ssid, source: source, reason: reason}}, nil
	}
	return []wifi{w}, nil, nil
}

func connmanSecurity(w *wifi, pass, service string) (string, error) {
	sec := service[strings.LastIndexByte(service, '_')+1:]
	switch sec {
	case "none":
		return "", nil
	case "psk":
		if pass == "" {
			return "no Passphrase saved", nil
		}
		w.security = secWPAPSK
		if len(pass) == 64 {
			if _, err := hex.DecodeString(pass); err == nil {
				w.psk = strings.ToLower(pass)
				return "", nil
			}
		}
		if len(pass) < 8 || len(pass) > 63 {
			return "", fmt.Errorf("passphrase of %d characters, want 8 to 63", len(pass))
		}
		w.psk = pass
		return "", nil
	case "wep":
		if pass == "" {
			return "no Passphrase saved", nil
		}
		w.security, w.wepType, w.wepKey = secWEP, 1, pass
		return "", nil
	case "ieee8021x":
		return "connman 802.1X settings live in a separate provisioning file, not carried", nil
	}
	return "unknown connman security " + sec, nil
}
