package netmigrate

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEncodeSSID(t *testing.T) {
	tests := []struct {
		name string
		ssid string
		want string
	}{
		{name: "plain", ssid: "HomeNet", want: "HomeNet"},
		{name: "inner space", ssid: "My Net", want: "My Net"},
		{name: "semicolon", ssid: "a;b", want: "97;59;98;"},
		{name: "digits only", ssid: "12", want: "49;50;"},
		{name: "utf8", ssid: "Café", want: "67;97;102;195;169;"},
		{name: "leading space", ssid: " x", want: "32;120;"},
		{name: "backslash", ssid: `a\b`, want: "97;92;98;"},
		{name: "control byte", ssid: "a\x00", want: "97;0;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := encodeSSID([]byte(tt.ssid)); got != tt.want {
				t.Errorf("encodeSSID(%q) = %q, want %q", tt.ssid, got, tt.want)
			}
			if got := decodeSSID(escapeValue(tt.want)); string(got) != tt.ssid {
				t.Errorf("decodeSSID(%q) = %q, want %q", tt.want, got, tt.ssid)
			}
		})
	}
}

func TestDecodeSSIDFromNetworkManager(t *testing.T) {
	tests := []struct {
		raw  string
		want string
	}{
		{raw: `Cafe\\; Guest`, want: "Cafe; Guest"},
		{raw: "72;105;", want: "Hi"},
		{raw: "72;105", want: "Hi"},
		{raw: `\sspace`, want: " space"},
		{raw: "1;999;", want: "1;999;"}, // not bytes: a string
	}
	for _, tt := range tests {
		if got := decodeSSID(tt.raw); string(got) != tt.want {
			t.Errorf("decodeSSID(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestEscapeValue(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{in: "plain text", want: "plain text"},
		{in: "  two", want: `\s\stwo`},
		{in: "tail ", want: `tail\s`},
		{in: `a\b`, want: `a\\b`},
		{in: "a\nb\tc\rd", want: `a\nb\tc\rd`},
	}
	for _, tt := range tests {
		if got := escapeValue(tt.in); got != tt.want {
			t.Errorf("escapeValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := unescapeValue(tt.want); got != tt.in {
			t.Errorf("unescapeValue(%q) = %q, want %q", tt.want, got, tt.in)
		}
	}
}

func TestParseKeyfileErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{name: "key before group", data: "id=x\n[connection]\n"},
		{name: "no equals", data: "[connection]\nid\n"},
		{name: "bad header", data: "[connection\nid=x\n"},
		{name: "empty key", data: "[c]\n=x\n"},
	}
	for _, tt := range tests {
		if _, err := parseKeyfile([]byte(tt.data)); err == nil {
			t.Errorf("parseKeyfile(%s) = nil error, want one", tt.name)
		}
	}
}

func TestParseWPA(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		wantSSID []string
		wantSkip int
		wantErr  bool
	}{
		{name: "psk", data: "network={\n ssid=\"A\"\n psk=\"12345678\"\n}\n",
			wantSSID: []string{"A"}},
		{name: "hex ssid", data: "network={\nssid=414243\nkey_mgmt=NONE\n}\n",
			wantSSID: []string{"ABC"}},
		{name: "comment after value", data: "network={\nssid=\"A#1\" # note\nkey_mgmt=NONE\n}\n",
			wantSSID: []string{"A#1"}},
		{name: "unterminated block", data: "network={\nssid=\"A\"\n", wantErr: true},
		{name: "short psk", data: "network={\nssid=\"A\"\npsk=\"short\"\n}\n", wantErr: true},
		{name: "bad hex psk", data: "network={\nssid=\"A\"\npsk=abcd\n}\n", wantErr: true},
		{name: "no ssid", data: "network={\npsk=\"12345678\"\n}\n", wantErr: true},
		{name: "long ssid", data: "network={\nssid=\"" + strings.Repeat("x", 33) +
			"\"\nkey_mgmt=NONE\n}\n", wantErr: true},
		{name: "bad priority", data: "network={\nssid=\"A\"\nkey_mgmt=NONE\npriority=x\n}\n",
			wantErr: true},
		{name: "psk sha256", data: "network={\nssid=\"A\"\npsk=\"12345678\"\n" +
			"key_mgmt=WPA-PSK-SHA256\n}\n", wantSSID: []string{"A"}},
		{name: "eap-sha256 peap", data: "network={\nssid=\"A\"\nkey_mgmt=WPA-EAP-SHA256\n" +
			"eap=PEAP\nidentity=\"u\"\npassword=\"p\"\n}\n", wantSSID: []string{"A"}},
		{name: "ap mode", data: "network={\nssid=\"A\"\nmode=2\nkey_mgmt=NONE\n}\n",
			wantSkip: 1},
		{name: "hashed eap password", data: "network={\nssid=\"A\"\nkey_mgmt=WPA-EAP\n" +
			"eap=PEAP\nidentity=\"u\"\npassword=hash:0123\n}\n", wantSkip: 1},
		{name: "no security at all", data: "network={\nssid=\"A\"\n}\n", wantSkip: 1},
		{name: "wep key 1", data: "network={\nssid=\"A\"\nkey_mgmt=NONE\nwep_key1=\"abcde\"\n" +
			"wep_tx_keyidx=1\n}\n", wantSkip: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nets, skips, err := parseWPA([]byte(tt.data), "test.conf")
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseWPA(%s) error = %v, want error %v", tt.name, err, tt.wantErr)
			}
			var got []string
			for _, n := range nets {
				got = append(got, string(n.ssid))
			}
			if strings.Join(got, ",") != strings.Join(tt.wantSSID, ",") {
				t.Errorf("parseWPA(%s) ssids = %q, want %q", tt.name, got, tt.wantSSID)
			}
			if len(skips) != tt.wantSkip {
				t.Errorf("parseWPA(%s) skipped %d, want %d", tt.name, len(skips), tt.wantSkip)
			}
		})
	}
}

func TestParseConnmanErrors(t *testing.T) {
	tests := []struct {
		name    string
		service string
		data    string
	}{
		{name: "bad hex", service: "wifi_x_y_managed_psk",
			data: "[wifi_x_y_managed_psk]\nSSID=zz\nPassphrase=12345678\n"},
		{name: "short passphrase", service: "wifi_x_y_managed_psk",
			data: "[wifi_x_y_managed_psk]\nName=A\nPassphrase=short\n"},
		{name: "no name", service: "wifi_x_y_managed_none", data: "[wifi_x_y_managed_none]\n"},
	}
	for _, tt := range tests {
		if _, _, err := parseConnman([]byte(tt.data), tt.service, "settings"); err == nil {
			t.Errorf("parseConnman(%s) = nil error, want one", tt.name)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		addr, mask, want string
		wantErr          bool
	}{
		{addr: "10.0.0.5", mask: "255.255.255.0", want: "10.0.0.5/24"},
		{addr: "10.0.0.5", want: "10.0.0.5/8"},
		{addr: "172.16.0.5", want: "172.16.0.5/16"},
		{addr: "192.168.0.5", want: "192.168.0.5/24"},
		{addr: "10.0.0.5/20", want: "10.0.0.5/20"},
		{addr: "10.0.0.5", mask: "255.0.255.0", wantErr: true},
		{addr: "10.0.0.300", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parsePrefix(tt.addr, tt.mask)
		if (err != nil) != tt.wantErr || (err == nil && got.String() != tt.want) {
			t.Errorf("parsePrefix(%q, %q) = %v, %v; want %q (error %v)",
				tt.addr, tt.mask, got, err, tt.want, tt.wantErr)
		}
	}
}

// FuzzSSID proves every SSID survives encoding into a keyfile and back.
func FuzzSSID(f *testing.F) {
	for _, s := range []string{"HomeNet", "a;b", "12", " x ", `\`, "Café", "\x00\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, ssid []byte) {
		if len(ssid) == 0 {
			return
		}
		w := wifi{ssid: ssid, source: "fuzz"}
		kf, err := parseKeyfile(w.keyfile("resin-wifi-01"))
		if err != nil {
			t.Fatalf("generated keyfile for %q does not parse: %v", ssid, err)
		}
		raw, _ := kf.raw("ssid", "wifi")
		if got := decodeSSID(raw); !bytes.Equal(got, ssid) {
			t.Fatalf("ssid %q came back as %q", ssid, got)
		}
	})
}

// FuzzPSK proves every psk survives escaping and parsing.
func FuzzPSK(f *testing.F) {
	for _, s := range []string{"correct horse", " lead", "trail ", `a\b`, "x\ny"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, psk string) {
		if strings.ContainsRune(psk, 0) || !utf8.ValidString(psk) {
			return
		}
		w := wifi{ssid: []byte("x"), security: secWPAPSK, psk: psk, source: "fuzz"}
		kf, err := parseKeyfile(w.keyfile("resin-wifi-01"))
		if err != nil {
			t.Fatalf("generated keyfile does not parse: %v", err)
		}
		if got := kf.get("psk", "wifi-security"); got != psk {
			t.Fatalf("psk %q came back as %q", psk, got)
		}
	})
}

func FuzzParseKeyfile(f *testing.F) {
	f.Add([]byte("[connection]\nid=x\ntype=wifi\n[wifi]\nssid=a\\;b\n"))
	f.Add([]byte("# c\n[g]\nk = v \n[g]\nk=w\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := parseKeyfile(data)
		if err != nil {
			return
		}
		// What parses must render and parse again to the same values.
		again, err := parseKeyfile(kf.render("fuzz"))
		if err != nil {
			t.Fatalf("rendered keyfile does not parse: %v", err)
		}
		for _, g := range kf.groups {
			for _, e := range g.keys {
				if v, _ := again.raw(e.key, g.name); v != e.value {
					t.Fatalf("[%s] %s = %q after render, want %q", g.name, e.key, v, e.value)
				}
			}
		}
	})
}

func FuzzParseNM(f *testing.F) {
	f.Add([]byte("[connection]\ntype=wifi\n[wifi]\nssid=A\n[wifi-security]\nkey-mgmt=wpa-psk\npsk=12345678\n"))
	f.Add([]byte("[connection]\ntype=ethernet\n[ipv4]\nmethod=manual\naddress1=1.2.3.4/24\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, reason, _, err := parseNM(data, "fuzz")
		if err != nil || reason != "" {
			return
		}
		p.prepare()
		if _, err := parseKeyfile(p.keyfile("resin-wifi-01")); err != nil {
			t.Fatalf("carried profile does not parse: %v", err)
		}
	})
}

func FuzzParseWPA(f *testing.F) {
	f.Add([]byte("network={\nssid=\"A\"\npsk=\"12345678\"\npriority=3\n}\n"))
	f.Add([]byte("network={\nssid=P\"a\\x41\\\"\"\nkey_mgmt=WPA-EAP\neap=PEAP\nidentity=\"u\"\n}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		nets, _, err := parseWPA(data, "fuzz")
		if err != nil {
			return
		}
		for _, n := range nets {
			if len(n.ssid) == 0 || len(n.ssid) > 32 {
				t.Fatalf("parseWPA accepted ssid of %d bytes", len(n.ssid))
			}
			n.keyfile("resin-wifi-01")
		}
	})
}

func FuzzParseConnman(f *testing.F) {
	f.Add([]byte("[s]\nName=A\nSSID=41\nPassphrase=12345678\n"), "wifi_x_41_managed_psk")
	f.Fuzz(func(t *testing.T, data []byte, service string) {
		nets, _, err := parseConnman(data, service, "fuzz")
		if err != nil {
			return
		}
		for _, n := range nets {
			n.keyfile("resin-wifi-01")
		}
	})
}

func FuzzParseStatic(f *testing.F) {
	f.Add([]byte("interface eth0\nstatic ip_address=10.0.0.2/24\nstatic routers=10.0.0.1\n"))
	f.Add([]byte("iface eth0 inet static\n address 10.0.0.2\n netmask 255.255.255.0\n"))
	f.Add([]byte("iface wlan0 inet dhcp\n wpa-ssid \"A B\"\n wpa-psk 12345678\n wpa-conf /x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if nets, _, _, err := parseInterfacesWifi(data, "fuzz"); err == nil {
			for _, n := range nets {
				if _, err := parseKeyfile(n.keyfile("resin-wifi-01")); err != nil {
					t.Fatalf("ifupdown wifi profile does not parse: %v", err)
				}
			}
		}
		for _, parse := range []staticParser{parseDhcpcd, parseInterfaces} {
			nets, _, err := parse(data, "fuzz")
			if err != nil {
				continue
			}
			for _, n := range nets {
				if _, err := parseKeyfile(n.keyfile("resin-ethernet-01")); err != nil {
					t.Fatalf("static profile does not parse: %v", err)
				}
			}
		}
	})
}

// A malformed secret must not show up, even in part, in the error that is
// logged for it.
func TestWPAStringErrorHidesValue(t *testing.T) {
	_, err := wpaString("zyw-secret-pass")
	if err == nil {
		t.Fatal(`wpaString("zyw-secret-pass") = nil error, want one`)
	}
	// hex's own error would say "invalid byte: U+007A 'z'".
	for _, part := range []string{"'z'", "U+007A", "zyw", "secret"} {
		if strings.Contains(err.Error(), part) {
			t.Errorf("wpaString error %q shows %q of the value", err, part)
		}
	}
}
