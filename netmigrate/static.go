package netmigrate

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
)

// parseDhcpcd reads the static addresses of dhcpcd.conf's interface blocks
// (Raspberry Pi OS before bookworm configures fixed addresses there).
func parseDhcpcd(data []byte, source string) ([]staticEthernet, []skipped, error) {
	var out []*staticEthernet
	var cur *staticEthernet
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(stripComment(sc.Text()))
		switch {
		case len(f) == 0:
		case f[0] == "interface" && len(f) == 2:
			cur = &staticEthernet{iface: f[1], source: source}
			out = append(out, cur)
		case f[0] == "interface" || f[0] == "profile" || f[0] == "ssid":
			cur = nil // a block whose statics are not an interface's own
		case f[0] == "static" && cur != nil:
			if err := dhcpcdStatic(cur, strings.Join(f[1:], " ")); err != nil {
				return nil, nil, fmt.Errorf("line %d: %w", n, err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", source, err)
	}
	nets, skips := keepEthernet(out)
	return nets, skips, nil
}

func stripComment(s string) string {
	s, _, _ = strings.Cut(s, "#")
	return strings.TrimSpace(s)
}

func dhcpcdStatic(e *staticEthernet, kv string) error {
	key, value, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("static %q is not key=value", kv)
	}
	var err error
	switch key {
	case "ip_address", "ip6_address":
		for _, v := range strings.Fields(value) {
			var p netip.Prefix
			if p, err = parsePrefix(v, ""); err != nil {
				return err
			}
			e.addrs = append(e.addrs, p)
		}
	case "routers":
		for _, v := range strings.Fields(value) {
			if err = setGateway(e, v); err != nil {
				return err
			}
		}
	case "domain_name_servers":
		for _, v := range strings.Fields(value) {
			a, err := netip.ParseAddr(v)
			if err != nil {
				return fmt.Errorf("domain_name_servers: %w", err)
			}
			e.dns = append(e.dns, a)
		}
	}
	return nil
}

func setGateway(e *staticEthernet, v string) error {
	a, err := netip.ParseAddr(v)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if a.Is4() && !e.gateway.IsValid() {
		e.gateway = a
	} else if a.Is6() && !e.gw6.IsValid() {
		e.gw6 = a
	}
	return nil
}

// parsePrefix reads "a.b.c.d/n" or an address with a dotted netmask. An
// IPv4 address with neither gets its classful mask, as dhcpcd gives it.
func parsePrefix(addr, netmask string) (netip.Prefix, error) {
	if strings.Contains(addr, "/") {
		p, err := netip.ParsePrefix(addr)
		if err != nil {
			return p, fmt.Errorf("address: %w", err)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("address: %w", err)
	}
	bits, err := maskBits(a, netmask)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, bits), nil
}

func maskBits(a netip.Addr, netmask string) (int, error) {
	if netmask != "" {
		m, err := netip.ParseAddr(netmask)
		if err != nil || !m.Is4() {
			return 0, fmt.Errorf("netmask %q is not a dotted IPv4 mask", netmask)
		}
		b := m.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		n := 0
		for ; n < 32 && v&(1<<(31-n)) != 0; n++ {
		}
		if v<<n != 0 {
			return 0, fmt.Errorf("netmask %s is not contiguous", netmask)
		}
		return n, nil
	}
	if a.Is6() {
		return 64, nil
	}
	switch first := a.As4()[0]; {
	case first < 128:
		return 8, nil
	case first < 192:
		return 16, nil
	default:
		return 24, nil
	}
}

// keepEthernet keeps the wired interfaces that have an address, and skips
// Wi-Fi ones: a fixed address on wlan0 belongs to a Wi-Fi profile, which
// these sources cannot tie to a network.
func keepEthernet(all []*staticEthernet) ([]staticEthernet, []skipped) {
	var nets []staticEthernet
	var skips []skipped
	for _, e := range all {
		switch {
		case len(e.addrs) == 0 || e.iface == "lo":
		case strings.HasPrefix(e.iface, "wl"):
			skips = append(skips, skipped{source: e.source,
				reason: "static address on " + e.iface + " is not tied to a Wi-Fi network"})
		default:
			nets = append(nets, *e)
		}
	}
	return nets, skips
}

// parseInterfaces reads the static stanzas of an ifupdown interfaces file.
func parseInterfaces(data []byte, source string) ([]staticEthernet, []skipped, error) {
	byName := map[string]*staticEthernet{}
	var order []*staticEthernet
	var cur *staticEthernet
	var netmask, addr string
	flush := func() error {
		if cur != nil && addr != "" {
			p, err := parsePrefix(addr, netmask)
			if err != nil {
				return err
			}
			cur.addrs = append(cur.addrs, p)
		}
		addr, netmask = "", ""
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(stripComment(sc.Text()))
		if len(f) == 0 {
			continue
		}
		if isStanza(f[0]) {
			if err := flush(); err != nil {
				return nil, nil, fmt.Errorf("line %d: %w", n, err)
			}
			cur = nil
			if f[0] == "iface" && len(f) >= 4 && f[3] == "static" {
				cur = byName[f[1]]
				if cur == nil {
					cur = &staticEthernet{iface: f[1], source: source}
					byName[f[1]] = cur
					order = append(order, cur)
				}
			}
			continue
		}
		if cur == nil || len(f) < 2 {
			continue
		}
		var err error
		switch f[0] {
		case "address":
			addr = f[1]
		case "netmask":
			netmask = f[1]
		case "gateway":
			err = setGateway(cur, f[1])
		case "dns-nameservers":
			for _, v := range f[1:] {
				a, perr := netip.ParseAddr(v)
				if perr != nil {
					err = fmt.Errorf("dns-nameservers: %w", perr)
					break
				}
				cur.dns = append(cur.dns, a)
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := flush(); err != nil {
		return nil, nil, fmt.Errorf("end of file: %w", err)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", source, err)
	}
	nets, skips := keepEthernet(order)
	return nets, skips, nil
}

func isStanza(word string) bool {
	switch word {
	case "iface", "auto", "mapping", "source", "source-directory", "rename":
		return true
	}
	return strings.HasPrefix(word, "allow-") || strings.HasPrefix(word, "no-")
}

// parseInterfacesWifi reads the Wi-Fi settings ifupdown hands to
// wpa_supplicant: wpa-ssid with wpa-psk (or wpa-key-mgmt NONE) in an iface
// stanza. It also returns the files named by wpa-conf, to be read as
// wpa_supplicant configurations.
func parseInterfacesWifi(data []byte, source string) ([]wifi, []skipped, []string, error) {
	var nets []wifi
	var skips []skipped
	var confs []string
	var cur map[string]string
	flush := func() error {
		if cur == nil || cur["wpa-ssid"] == "" {
			return nil
		}
		w, reason, err := ifupdownWifi(cur, source)
		if err != nil {
			return err
		}
		if reason != "" {
			skips = append(skips, skipped{ssid: w.ssid, source: source, reason: reason})
		} else {
			nets = append(nets, w)
		}
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := stripComment(sc.Text())
		key, value, _ := strings.Cut(line, " ")
		value = strings.TrimSpace(value)
		switch {
		case key == "":
		case isStanza(key):
			if err := flush(); err != nil {
				return nil, nil, nil, fmt.Errorf("line %d: %w", n, err)
			}
			cur = nil
			if key == "iface" {
				cur = map[string]string{}
			}
		case key == "wpa-conf" && value != "":
			confs = append(confs, value)
		case cur != nil && strings.HasPrefix(key, "wpa-"):
			cur[key] = value
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, nil, fmt.Errorf("reading %s: %w", source, err)
	}
	if err := flush(); err != nil {
		return nil, nil, nil, fmt.Errorf("end of file: %w", err)
	}
	return nets, skips, confs, nil
}

// ifupdownWifi turns one stanza's wpa-* options into a network, reusing
// the wpa_supplicant rules for what a passphrase or raw key may be.
func ifupdownWifi(opts map[string]string, source string) (wifi, string, error) {
	ssid := strings.Trim(opts["wpa-ssid"], `"`)
	b := map[string]string{"ssid": `"` + ssid + `"`}
	if psk := opts["wpa-psk"]; psk != "" {
		if _, err := hex.DecodeString(psk); err != nil || len(psk) != 64 {
			psk = `"` + strings.Trim(psk, `"`) + `"`
		}
		b["psk"] = psk
	}
	if m := opts["wpa-key-mgmt"]; m != "" {
		b["key_mgmt"] = m
	}
	return wpaNetwork(b, source)
}
