// Package netmigrate carries the network setup of the old OS over to
// balenaOS, as NetworkManager keyfiles for the boot partition's
// system-connections/ directory.
//
// Every source is read, not only the first one found: NetworkManager
// profiles (/etc and /run), wpa_supplicant, connman, dhcpcd.conf and
// /etc/network/interfaces static addresses. The same SSID found in several
// sources is carried once, from the richest source (NetworkManager, then
// wpa_supplicant, then connman). Secrets are written to the keyfiles (that is
// the point) but never logged.
package netmigrate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/sirupsen/logrus"
)

// ErrNoNetwork is what the caller returns when Collect found nothing to
// carry over and the user did not pass --no-nwmgr-check.
var ErrNoNetwork = errors.New("no network configuration found to migrate, " +
	"balenaOS could come up unreachable: give a NetworkManager profile with " +
	"--nwmgr-cfg, or pass --no-nwmgr-check if wired DHCP is enough")

// Options say where to look and what to carry.
type Options struct {
	Root    string   // "/" on a device ("" means "/"), a fake tree in tests
	NoWifis bool     // --no-wifis: carry no Wi-Fi network found on the system
	Wifis   []string // --wifi: carry only these SSIDs; scans even with NoWifis
	NMFiles []string // --nwmgr-cfg: profiles copied as balena-01, balena-02 ...
	NoScan  bool     // read nothing of this machine: only NMFiles (offline build-initrd)
	Log     logrus.FieldLogger
}

// File is one keyfile for system-connections/. Data holds secrets.
type File struct {
	Name string
	Data []byte
}

// Result is the set of keyfiles to write, with unique names.
type Result struct {
	Files []File
}

// Count returns the number of keyfiles. Zero means the caller should stop
// with ErrNoNetwork unless told otherwise.
func (r *Result) Count() int { return len(r.Files) }

// candidate is a profile found on the old OS, not yet named.
type candidate struct {
	kind   string // kindWifi or kindEthernet
	ssid   []byte // kindWifi only
	iface  string // kindEthernet: the interface it is bound to, "" for any
	source string
	render func(id string) []byte
}

// Collect reads the old OS's network setup and the user's profiles and
// returns the keyfiles to write.
func Collect(o Options) (*Result, error) {
	log := o.Log
	if log == nil {
		log = discard()
	}
	if o.Root == "" {
		o.Root = "/"
	}
	c := &collector{root: o.Root, log: log}
	res := &Result{}

	if err := res.addUserFiles(o.NMFiles, log); err != nil {
		return nil, err
	}

	if o.NoScan {
		return res, nil
	}
	found, err := c.scan()
	if err != nil {
		return nil, fmt.Errorf("reading network setup under %s: %w", o.Root, err)
	}

	var wifis []candidate
	if !o.NoWifis || len(o.Wifis) > 0 {
		wifis = filterSSIDs(dedupeWifi(found.wifi, log), o.Wifis, log)
	}
	res.add("resin-wifi", wifis, log)
	res.add("resin-ethernet", dedupeEthernet(found.ethernet, log), log)
	return res, nil
}

// addUserFiles copies --nwmgr-cfg files as they are, after checking that
// NetworkManager could read them.
func (r *Result) addUserFiles(paths []string, log logrus.FieldLogger) error {
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("reading --nwmgr-cfg file: %w", err)
		}
		if err := validateUserFile(data); err != nil {
			return fmt.Errorf("checking --nwmgr-cfg file %s: %w", p, err)
		}
		name := fmt.Sprintf("balena-%02d", i+1)
		r.Files = append(r.Files, File{Name: name, Data: data})
		log.WithFields(logrus.Fields{"name": name, "source": p}).Info("migrating network profile")
	}
	return nil
}

func validateUserFile(data []byte) error {
	kf, err := parseKeyfile(data)
	if err != nil {
		return err
	}
	if kf.get("type", grpConn...) == "" {
		return errors.New("no [connection] type=: not a NetworkManager keyfile")
	}
	return nil
}

func (r *Result) add(prefix string, cands []candidate, log logrus.FieldLogger) {
	for i, c := range cands {
		name := fmt.Sprintf("%s-%02d", prefix, i+1)
		r.Files = append(r.Files, File{Name: name, Data: c.render(name)})
		l := log.WithFields(logrus.Fields{"name": name, "source": c.source})
		if c.kind == kindWifi {
			l = l.WithField("ssid", fmt.Sprintf("%q", c.ssid))
		}
		l.Info("migrating network profile")
	}
}

func dedupeWifi(cands []candidate, log logrus.FieldLogger) []candidate {
	seen := map[string]string{}
	var out []candidate
	for _, c := range cands {
		if kept, ok := seen[string(c.ssid)]; ok {
			log.WithFields(logrus.Fields{"ssid": fmt.Sprintf("%q", c.ssid),
				"source": c.source, "kept": kept}).Debug("skipping duplicate network")
			continue
		}
		seen[string(c.ssid)] = c.source
		out = append(out, c)
	}
	return out
}

// dedupeEthernet keeps the first static setup per interface; sources come
// in order NetworkManager, dhcpcd, ifupdown.
func dedupeEthernet(cands []candidate, log logrus.FieldLogger) []candidate {
	seen := map[string]string{}
	var out []candidate
	for _, c := range cands {
		if kept, ok := seen[c.iface]; ok && c.iface != "" {
			log.WithFields(logrus.Fields{"interface": c.iface, "source": c.source,
				"kept": kept}).Debug("skipping duplicate static address")
			continue
		}
		seen[c.iface] = c.source
		out = append(out, c)
	}
	return out
}

// filterSSIDs keeps the networks named in want (all when want is empty).
func filterSSIDs(cands []candidate, want []string, log logrus.FieldLogger) []candidate {
	if len(want) == 0 {
		return cands
	}
	var out []candidate
	for _, w := range want {
		found := false
		for _, c := range cands {
			if string(c.ssid) == w {
				out = append(out, c)
				found = true
				break
			}
		}
		if !found {
			log.WithField("ssid", w).Warn("wifi network given with --wifi not found")
		}
	}
	return out
}

// ourName matches the names WriteDir may replace from an earlier run.
var ourName = regexp.MustCompile(`^(resin-wifi|resin-ethernet|balena)-[0-9]{2,}$`)

// WriteDir writes the keyfiles into dir with mode 0600. Keyfiles of an
// earlier run (names this package gives) are removed first, so none carries
// over; any other entry in dir is refused rather than shipped.
func (r *Result) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := clearOld(dir); err != nil {
		return err
	}
	for _, f := range r.Files {
		if err := writeSecret(filepath.Join(dir, f.Name), f.Data); err != nil {
			return err
		}
	}
	return nil
}

func clearOld(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	for _, e := range entries {
		if !ourName.MatchString(e.Name()) || !e.Type().IsRegular() {
			return fmt.Errorf("clearing %s: %s is not a keyfile takeover wrote: "+
				"use an empty directory", dir, e.Name())
		}
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("removing old keyfile: %w", err)
		}
	}
	return nil
}

func writeSecret(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating keyfile: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	return nil
}

func discard() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// ignoredName reports file names NetworkManager's keyfile plugin ignores
// (editor and package-manager leftovers, hidden files).
func ignoredName(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") {
		return true
	}
	for _, s := range []string{".bak", ".orig", ".rej", ".swp", ".tmp", ".rpmnew",
		".rpmsave", ".pacnew", ".pacsave"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return strings.Contains(name, ".dpkg-")
}
