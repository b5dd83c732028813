// Package backup turns a --backup-cfg file into backup.tgz, the archive the
// balena supervisor restores into application volumes on first boot.
//
// The archive is a gzip tar whose top-level entries are directories named
// after the volumes; each holds the items copied into it, at
// <volume>/<target>/<path below source>. The supervisor makes each
// top-level directory the content of the volume of the same name and
// drops directories no service declares.
package backup

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is a parsed --backup-cfg file.
type Config struct {
	Volumes []Volume
}

// Volume is one application volume to fill.
type Volume struct {
	Name  string
	Items []Item
}

// Item copies Source (a file or a directory, walked) into the volume under
// Target. Filter, when set, keeps only files whose full source path matches.
type Item struct {
	Source string
	Target string // relative to the volume, "" for its root
	Filter *regexp.Regexp
}

// The file's shape: a list of volumes, each with a list of items.
type rawVolume struct {
	Volume string    `yaml:"volume"`
	Items  []rawItem `yaml:"items"`
}

type rawItem struct {
	Source string `yaml:"source"`
	Target string `yaml:"target"`
	Filter string `yaml:"filter"`
}

// ParseConfig reads a --backup-cfg file:
//
//	# backup.yml
//	- volume: app-data
//	  items:
//	    - source: /home/pi/app/data
//	      target: data          # optional, relative to the volume
//	      filter: '\.db$'       # optional regular expression on the source path
//
// Unknown keys are refused (with their line), so a misspelt "item:" cannot
// silently back up nothing. The loose shapes of the original README (items
// written straight under the volume, with broken indentation) are not valid
// YAML and are refused too.
func ParseConfig(data []byte) (Config, error) {
	var raw []rawVolume
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return Config{}, errors.New("backup config is empty")
		}
		return Config{}, fmt.Errorf("parsing backup config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Config{}, fmt.Errorf("parsing backup config: %w", err)
	}
	lines := itemLines(&doc)
	var cfg Config
	for i, rv := range raw {
		v, err := convertVolume(rv, lines[i])
		if err != nil {
			return Config{}, fmt.Errorf("checking backup config: %w", err)
		}
		cfg.Volumes = append(cfg.Volumes, v)
	}
	if len(cfg.Volumes) == 0 {
		return Config{}, errors.New("backup config lists no volume")
	}
	return cfg, nil
}

// lines holds the line of a volume and of each of its items.
type lines struct {
	volume int
	items  []int
}

// itemLines finds where each volume and item starts, for error messages.
func itemLines(doc *yaml.Node) []lines {
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.SequenceNode {
		return nil
	}
	var out []lines
	for _, vn := range doc.Content[0].Content {
		l := lines{volume: vn.Line}
		for i := 0; i+1 < len(vn.Content); i += 2 {
			if vn.Content[i].Value == "items" {
				for _, in := range vn.Content[i+1].Content {
					l.items = append(l.items, in.Line)
				}
			}
		}
		out = append(out, l)
	}
	return out
}

func convertVolume(rv rawVolume, l lines) (Volume, error) {
	name := rv.Volume
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return Volume{}, fmt.Errorf("line %d: volume name %q: want a non-empty name "+
			"without '/'", l.volume, name)
	}
	if len(rv.Items) == 0 {
		return Volume{}, fmt.Errorf("line %d: volume %q has no items", l.volume, name)
	}
	v := Volume{Name: name}
	for j, ri := range rv.Items {
		line := l.volume
		if j < len(l.items) {
			line = l.items[j]
		}
		it, err := convertItem(ri)
		if err != nil {
			return Volume{}, fmt.Errorf("line %d: volume %q: %w", line, name, err)
		}
		v.Items = append(v.Items, it)
	}
	return v, nil
}

func convertItem(ri rawItem) (Item, error) {
	if ri.Source == "" {
		return Item{}, errors.New("item has no source")
	}
	if !filepath.IsAbs(ri.Source) {
		return Item{}, fmt.Errorf("source %q is not an absolute path", ri.Source)
	}
	it := Item{Source: filepath.Clean(ri.Source)}
	if ri.Target != "" {
		t := path.Clean(ri.Target)
		if path.IsAbs(t) || t == ".." || strings.HasPrefix(t, "../") {
			return Item{}, fmt.Errorf("target %q leaves the volume: want a relative path",
				ri.Target)
		}
		if t != "." {
			it.Target = t
		}
	}
	if ri.Filter != "" {
		re, err := regexp.Compile(ri.Filter)
		if err != nil {
			return Item{}, fmt.Errorf("filter %q: %w", ri.Filter, err)
		}
		it.Filter = re
	}
	return it, nil
}
