package netmigrate

import (
	"net/netip"
	"strconv"
	"strings"
)

// Security kinds of a Wi-Fi network, as NetworkManager's key-mgmt names them
// ("" is an open network).
const (
	secOpen   = ""
	secWPAPSK = "wpa-psk"
	secSAE    = "sae"
	secEAP    = "wpa-eap"
	secWEP    = "none" // static WEP keys: key-mgmt=none with wep-key0
)

// wifi is one Wi-Fi network found in a wpa_supplicant or connman
// configuration, in the terms of a NetworkManager profile.
type wifi struct {
	ssid     []byte
	security string
	psk      string // secret: never logged
	wepKey   string // secret: never logged
	wepType  int    // 1: hex or ASCII key, 2: passphrase
	eap      *eapConfig
	priority int
	source   string // file it came from, for logs
}

// eapConfig is the part of an 802.1X setup a keyfile can carry without
// certificate files.
type eapConfig struct {
	method     string // peap, ttls, pwd, fast, leap
	identity   string
	anonymous  string
	password   string // secret: never logged
	phase2Auth string // mschapv2, pap, gtc ...
}

// keyfile renders w as a NetworkManager profile named id.
func (w *wifi) keyfile(id string) []byte {
	kf := &keyfile{}
	kf.setString("connection", "id", id)
	kf.setString("connection", "type", "wifi")
	if w.priority != 0 {
		kf.setString("connection", "autoconnect-priority", strconv.Itoa(w.priority))
	}
	// hidden=true makes NetworkManager probe for the SSID, so networks that
	// do not broadcast it are found too; it costs nothing for the others.
	kf.setString("wifi", "hidden", "true")
	kf.setString("wifi", "mode", "infrastructure")
	kf.setRaw("wifi", "ssid", escapeValue(encodeSSID(w.ssid)))
	w.setSecurity(kf)
	setAutoIP(kf)
	return kf.render("created by takeover from " + w.source)
}

func (w *wifi) setSecurity(kf *keyfile) {
	const sec = "wifi-security"
	switch w.security {
	case secOpen:
		return
	case secWEP:
		kf.setString(sec, "key-mgmt", "none")
		kf.setString(sec, "wep-key-type", strconv.Itoa(w.wepType))
		kf.setString(sec, "wep-key0", w.wepKey)
	case secEAP:
		kf.setString(sec, "key-mgmt", "wpa-eap")
		w.eap.set(kf)
	default:
		kf.setString(sec, "key-mgmt", w.security)
		kf.setString(sec, "psk", w.psk)
	}
}

func (e *eapConfig) set(kf *keyfile) {
	const g = "802-1x"
	kf.setString(g, "eap", e.method+";")
	kf.setString(g, "identity", e.identity)
	if e.anonymous != "" {
		kf.setString(g, "anonymous-identity", e.anonymous)
	}
	if e.password != "" {
		kf.setString(g, "password", e.password)
	}
	if e.phase2Auth != "" {
		kf.setString(g, "phase2-auth", e.phase2Auth)
	}
}

func setAutoIP(kf *keyfile) {
	kf.setString("ipv4", "method", "auto")
	kf.setString("ipv6", "addr-gen-mode", "stable-privacy")
	kf.setString("ipv6", "method", "auto")
}

// staticEthernet is a wired interface with a fixed address, from
// dhcpcd.conf or /etc/network/interfaces.
type staticEthernet struct {
	iface   string
	addrs   []netip.Prefix
	gateway netip.Addr // IPv4 gateway; zero when none
	gw6     netip.Addr
	dns     []netip.Addr
	source  string
}

// keyfile renders e as a NetworkManager profile named id.
func (e *staticEthernet) keyfile(id string) []byte {
	kf := &keyfile{}
	kf.setString("connection", "id", id)
	kf.setString("connection", "type", "ethernet")
	kf.setString("connection", "interface-name", e.iface)
	kf.group("ethernet", true)
	e.family(kf, "ipv4", func(a netip.Addr) bool { return a.Is4() }, e.gateway)
	e.family(kf, "ipv6", func(a netip.Addr) bool { return a.Is6() }, e.gw6)
	return kf.render("created by takeover from " + e.source)
}

func (e *staticEthernet) family(kf *keyfile, g string, in func(netip.Addr) bool, gw netip.Addr) {
	n := 0
	for _, p := range e.addrs {
		if !in(p.Addr()) {
			continue
		}
		n++
		v := p.String()
		if n == 1 && gw.IsValid() {
			v += "," + gw.String()
		}
		kf.setString(g, "address"+strconv.Itoa(n), v)
	}
	if n == 0 {
		kf.setString(g, "method", "auto")
		if g == "ipv6" {
			kf.setString(g, "addr-gen-mode", "stable-privacy")
		}
		return
	}
	var dns []string
	for _, a := range e.dns {
		if in(a) {
			dns = append(dns, a.String())
		}
	}
	if len(dns) > 0 {
		kf.setString(g, "dns", strings.Join(dns, ";")+";")
	}
	kf.setString(g, "method", "manual")
}
