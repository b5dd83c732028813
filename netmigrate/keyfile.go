package netmigrate

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// keyfile is a GKeyFile-style document as NetworkManager and connman write
// it: [group] headers and key=value lines. Values are kept as they appear in
// the file (escaped); get unescapes, set escapes.
type keyfile struct {
	groups []*group
}

type group struct {
	name string
	keys []entry
}

type entry struct {
	key   string
	value string // escaped, as in the file
}

// parseKeyfile reads data with GKeyFile's rules: blank lines and lines
// starting with '#' are ignored, a repeated group is merged, a repeated key
// keeps its last value.
func parseKeyfile(data []byte) (*keyfile, error) {
	kf := &keyfile{}
	var cur *group
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		switch {
		case line == "" || line[0] == '#':
			continue
		case line[0] == '[':
			name, ok := groupName(line)
			if !ok {
				return nil, fmt.Errorf("line %d: malformed group header", n)
			}
			cur = kf.group(name, true)
		default:
			if cur == nil {
				return nil, fmt.Errorf("line %d: key outside any group", n)
			}
			key, value, ok := strings.Cut(line, "=")
			key = strings.TrimRight(key, " \t")
			if !ok || key == "" {
				return nil, fmt.Errorf("line %d: not a key=value line", n)
			}
			cur.set(key, strings.TrimLeft(value, " \t"))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading keyfile: %w", err)
	}
	return kf, nil
}

func groupName(line string) (string, bool) {
	line = strings.TrimRight(line, " \t")
	if len(line) < 3 || line[len(line)-1] != ']' {
		return "", false
	}
	name := line[1 : len(line)-1]
	if strings.ContainsAny(name, "[]") {
		return "", false
	}
	return name, true
}

// group returns the named group, adding it at the end when create is set.
func (kf *keyfile) group(name string, create bool) *group {
	for _, g := range kf.groups {
		if g.name == name {
			return g
		}
	}
	if !create {
		return nil
	}
	g := &group{name: name}
	kf.groups = append(kf.groups, g)
	return g
}

func (g *group) set(key, raw string) {
	for i := range g.keys {
		if g.keys[i].key == key {
			g.keys[i].value = raw
			return
		}
	}
	g.keys = append(g.keys, entry{key: key, value: raw})
}

// raw returns the value of key in the first of groups that has it, as
// written in the file.
func (kf *keyfile) raw(key string, groups ...string) (string, bool) {
	for _, name := range groups {
		g := kf.group(name, false)
		if g == nil {
			continue
		}
		for _, e := range g.keys {
			if e.key == key {
				return e.value, true
			}
		}
	}
	return "", false
}

// get returns the unescaped value of key in the first of groups that has it.
func (kf *keyfile) get(key string, groups ...string) string {
	v, _ := kf.raw(key, groups...)
	return unescapeValue(v)
}

// setString sets key in group to s, escaped.
func (kf *keyfile) setString(groupName, key, s string) {
	kf.group(groupName, true).set(key, escapeValue(s))
}

// setRaw sets key in group to an already escaped value.
func (kf *keyfile) setRaw(groupName, key, raw string) {
	kf.group(groupName, true).set(key, raw)
}

// del removes key from every one of groups and reports whether it was set.
func (kf *keyfile) del(key string, groups ...string) bool {
	found := false
	for _, name := range groups {
		g := kf.group(name, false)
		if g == nil {
			continue
		}
		for i := 0; i < len(g.keys); i++ {
			if g.keys[i].key == key {
				g.keys = append(g.keys[:i], g.keys[i+1:]...)
				found = true
				i--
			}
		}
	}
	return found
}

// render writes the document with comment as its first line.
func (kf *keyfile) render(comment string) []byte {
	var b bytes.Buffer
	b.WriteString("# " + comment + "\n")
	for _, g := range kf.groups {
		fmt.Fprintf(&b, "\n[%s]\n", g.name)
		for _, e := range g.keys {
			fmt.Fprintf(&b, "%s=%s\n", e.key, e.value)
		}
	}
	return b.Bytes()
}

// escapeValue escapes s as GKeyFile does for a string value, and also
// escapes trailing spaces, which a reader would otherwise be free to drop.
func escapeValue(s string) string {
	var b strings.Builder
	lead := len(s) - len(strings.TrimLeft(s, " "))
	trail := len(s) - len(strings.TrimRight(s, " "))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' && (i < lead || i >= len(s)-trail):
			b.WriteString(`\s`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescapeValue undoes GKeyFile's escapes. An unknown escape is kept as
// written, as GKeyFile readers in NetworkManager and connman tolerate it.
func unescapeValue(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i == len(s)-1 {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 's':
			b.WriteByte(' ')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '\\':
			b.WriteByte('\\')
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// encodeSSID returns the keyfile value for an SSID. Plain text is used only
// where no reader can mistake it: printable ASCII with no ';', no '\', no
// edge spaces and at least one non-digit. Anything else (UTF-8, control
// bytes, "12;34", "1234") is written as NetworkManager's byte list "49;50;".
func encodeSSID(ssid []byte) string {
	if plainSSID(ssid) {
		return string(ssid)
	}
	var b strings.Builder
	for _, c := range ssid {
		b.WriteString(strconv.Itoa(int(c)))
		b.WriteByte(';')
	}
	return b.String()
}

func plainSSID(ssid []byte) bool {
	if len(ssid) == 0 || ssid[0] == ' ' || ssid[len(ssid)-1] == ' ' {
		return false
	}
	digits := true
	for _, c := range ssid {
		if c < 0x20 || c > 0x7e || c == ';' || c == '\\' {
			return false
		}
		if c < '0' || c > '9' {
			digits = false
		}
	}
	return !digits
}

// decodeSSID reads an SSID as NetworkManager writes it: a byte list
// "72;105;" or a string in which ';' may be escaped as "\;".
func decodeSSID(raw string) []byte {
	if list, ok := byteList(raw); ok {
		return list
	}
	s := unescapeValue(raw)
	return []byte(strings.ReplaceAll(s, `\;`, ";"))
}

func byteList(raw string) ([]byte, bool) {
	if !strings.Contains(raw, ";") {
		return nil, false
	}
	var out []byte
	for _, f := range strings.Split(strings.TrimSuffix(raw, ";"), ";") {
		n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 8)
		if err != nil {
			return nil, false
		}
		out = append(out, byte(n))
	}
	return out, true
}
