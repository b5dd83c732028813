package netmigrate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sirupsen/logrus"
)

// Where each source keeps its configuration, relative to the root.
const (
	nmEtcDir       = "etc/NetworkManager/system-connections"
	nmRunDir       = "run/NetworkManager/system-connections"
	wpaDir         = "etc/wpa_supplicant"
	connmanDir     = "var/lib/connman"
	dhcpcdConf     = "etc/dhcpcd.conf"
	interfacesFile = "etc/network/interfaces"
	interfacesDir  = "etc/network/interfaces.d"
)

type collector struct {
	root string
	log  logrus.FieldLogger
}

// found is every profile of the old OS, in source order.
type found struct {
	wifi     []candidate
	ethernet []candidate
}

// scan reads every source. netplan is covered where it renders to
// NetworkManager (profiles in /run); TODO: read /etc/netplan/*.yaml for the
// networkd renderer (Ubuntu Server), which leaves no keyfile behind.
//
// A balenaOS source is read like any NetworkManager system: its profiles
// are renamed resin-wifi-NN / resin-ethernet-NN rather than keeping their
// names as the original tool did.
//
// A missing source is normal; one that exists and cannot be read is an
// error (usually: not running as root).
func (c *collector) scan() (*found, error) {
	f := &found{}
	for _, dir := range []string{nmEtcDir, nmRunDir} {
		if err := c.scanNM(dir, f); err != nil {
			return nil, err
		}
	}
	if err := c.scanWPA(f); err != nil {
		return nil, err
	}
	if err := c.scanConnman(f); err != nil {
		return nil, err
	}
	if err := c.scanStatic(dhcpcdConf, parseDhcpcd, f); err != nil {
		return nil, err
	}
	ifaces, err := c.files(interfacesDir, nil)
	if err != nil {
		return nil, err
	}
	for _, p := range append([]string{interfacesFile}, ifaces...) {
		if err := c.scanStatic(p, parseInterfaces, f); err != nil {
			return nil, err
		}
		if err := c.scanIfupdownWifi(p, f); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// scanIfupdownWifi reads the wpa-* options of an interfaces file, and the
// wpa_supplicant files its wpa-conf lines name outside /etc/wpa_supplicant
// (those inside were read already).
func (c *collector) scanIfupdownWifi(rel string, f *found) error {
	data, src, err := c.read(rel)
	if err != nil || data == nil {
		return err
	}
	nets, skips, confs, err := parseInterfacesWifi(data, src)
	if err != nil {
		c.unreadable(src, err)
		return nil
	}
	c.addWifi(nets, skips, f)
	for _, conf := range confs {
		confRel := strings.TrimPrefix(filepath.Clean("/"+conf), "/")
		if filepath.Dir(confRel) == wpaDir && strings.HasSuffix(confRel, ".conf") {
			continue
		}
		if err := c.scanWPAFile(confRel, f); err != nil {
			return err
		}
	}
	return nil
}

func (c *collector) scanNM(dir string, f *found) error {
	names, err := c.files(dir, ignoredName)
	if err != nil {
		return err
	}
	for _, rel := range names {
		data, src, err := c.read(rel)
		if err != nil {
			return err
		}
		if data == nil {
			continue
		}
		p, reason, quiet, err := parseNM(data, src)
		if err != nil {
			c.unreadable(src, err)
			continue
		}
		if reason != "" {
			c.skip(skipped{ssid: p.ssid, source: src, reason: reason}, quiet)
			continue
		}
		p.prepare()
		for _, n := range p.notes {
			c.log.WithFields(logrus.Fields{"source": src, "change": n}).Warn("adjusting profile")
		}
		cand := candidate{kind: p.kind, ssid: p.ssid, iface: p.iface(), source: src,
			render: p.keyfile}
		if p.kind == kindWifi {
			f.wifi = append(f.wifi, cand)
		} else {
			f.ethernet = append(f.ethernet, cand)
		}
	}
	return nil
}

func (c *collector) scanWPA(f *found) error {
	names, err := c.files(wpaDir, func(n string) bool { return !strings.HasSuffix(n, ".conf") })
	if err != nil {
		return err
	}
	for _, rel := range names {
		if err := c.scanWPAFile(rel, f); err != nil {
			return err
		}
	}
	return nil
}

func (c *collector) scanWPAFile(rel string, f *found) error {
	data, src, err := c.read(rel)
	if err != nil || data == nil {
		return err
	}
	nets, skips, err := parseWPA(data, src)
	if err != nil {
		c.unreadable(src, err)
		return nil
	}
	c.addWifi(nets, skips, f)
	return nil
}

func (c *collector) scanConnman(f *found) error {
	entries, err := os.ReadDir(filepath.Join(c.root, connmanDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading connman services: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "wifi_") {
			continue
		}
		data, src, err := c.read(filepath.Join(connmanDir, e.Name(), "settings"))
		if err != nil {
			return err
		}
		if data == nil {
			continue
		}
		nets, skips, err := parseConnman(data, e.Name(), src)
		if err != nil {
			c.unreadable(src, err)
			continue
		}
		c.addWifi(nets, skips, f)
	}
	return nil
}

type staticParser func(data []byte, source string) ([]staticEthernet, []skipped, error)

func (c *collector) scanStatic(rel string, parse staticParser, f *found) error {
	data, src, err := c.read(rel)
	if err != nil || data == nil {
		return err
	}
	nets, skips, err := parse(data, src)
	if err != nil {
		c.unreadable(src, err)
		return nil
	}
	for _, s := range skips {
		c.skip(s, false)
	}
	for i := range nets {
		e := &nets[i]
		c.log.WithFields(logrus.Fields{"source": src, "interface": e.iface}).
			Warn("static address bound to an interface name that must not change on balenaOS")
		f.ethernet = append(f.ethernet, candidate{kind: kindEthernet, iface: e.iface,
			source: src, render: e.keyfile})
	}
	return nil
}

func (c *collector) addWifi(nets []wifi, skips []skipped, f *found) {
	for _, s := range skips {
		c.skip(s, false)
	}
	for i := range nets {
		w := &nets[i]
		f.wifi = append(f.wifi, candidate{kind: kindWifi, ssid: w.ssid, source: w.source,
			render: w.keyfile})
	}
}

// unreadable warns about a source file that does not parse; the other
// sources still count, and an empty result stops the caller anyway.
func (c *collector) unreadable(src string, err error) {
	c.log.WithField("source", src).WithError(err).Warn("skipping unreadable network setup")
}

func (c *collector) skip(s skipped, quiet bool) {
	l := c.log.WithFields(logrus.Fields{"source": s.source, "reason": s.reason})
	if s.ssid != nil {
		l = l.WithField("ssid", fmt.Sprintf("%q", s.ssid))
	}
	if quiet {
		l.Debug("not migrating network profile")
		return
	}
	l.Warn("not migrating network profile")
}

// files lists the regular files of dir (relative to the root), sorted,
// leaving out names for which ignore is true. A missing dir has none.
func (c *collector) files(dir string, ignore func(string) bool) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(c.root, dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	var out []string
	for _, e := range entries {
		if !e.Type().IsRegular() || (ignore != nil && ignore(e.Name())) {
			continue
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	sort.Strings(out)
	return out, nil
}

// read returns a file's content and its path as seen on the device. A
// missing file gives nil data and no error.
func (c *collector) read(rel string) ([]byte, string, error) {
	src := "/" + filepath.ToSlash(rel)
	data, err := os.ReadFile(filepath.Join(c.root, rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, src, nil
	}
	if err != nil {
		return nil, src, fmt.Errorf("reading network setup: %w", err)
	}
	return data, src, nil
}
