package kmod

import (
	"reflect"
	"strings"
	"testing"
)

func TestFnmatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{pattern: "virtio:d00000002v*", name: "virtio:d00000002v00001AF4", want: true},
		{pattern: "virtio:d00000002v*", name: "virtio:d00000001v00001AF4", want: false},
		{pattern: "pci:v00001AF4d*sv*sd*bc*sc*i*", name: "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00", want: true},
		{pattern: "pci:v00008086d*sv*sd*bc01sc06i01*", name: "pci:v00008086d00002922sv0sd0bc01sc06i01", want: true},
		{pattern: "pci:v00008086d*sv*sd*bc01sc06i01*", name: "pci:v00008086d00002922sv0sd0bc01sc06i02", want: false},
		{pattern: "of:N*T*Cbrcm,bcm2711-emmc2", name: "of:NmmcT(null)Cbrcm,bcm2711-emmc2", want: true},
		{pattern: "usb:v*p*d*dc*dsc*dp*ic08isc06ip50in*", name: "usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00", want: true},
		{pattern: "dmi*:svn[Ll][Ee][Nn]*", name: "dmi:bvnX:svnLENOVO:", want: true},
		{pattern: "dmi*:svn[!L]*", name: "dmi:svnLENOVO", want: false},
		{pattern: "a?c", name: "abc", want: true},
		{pattern: "a?c", name: "ac", want: false},
		{pattern: "a/*", name: "a/b/c", want: true},
		{pattern: "*", name: "", want: true},
		{pattern: "", name: "x", want: false},
	}
	for _, tt := range tests {
		if got := fnmatch(tt.pattern, tt.name); got != tt.want {
			t.Errorf("fnmatch(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

// A pattern of many stars against a long name that does not match must not
// backtrack exponentially.
func TestFnmatchManyStars(t *testing.T) {
	pattern := strings.Repeat("*a", 30) + "b"
	name := strings.Repeat("a", 200)
	if fnmatch(pattern, name) {
		t.Errorf("fnmatch(%q, %q) = true, want false", pattern, name)
	}
}

func TestParseDep(t *testing.T) {
	in := "kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n" +
		"\n" +
		"kernel/fs/nls/nls_iso8859-1.ko.xz:\n"
	got, err := parseDep(strings.NewReader(in))
	if err != nil {
		t.Fatalf("parseDep() error: %v", err)
	}
	want := map[string]depEntry{
		"virtio_blk": {path: "kernel/drivers/block/virtio_blk.ko",
			deps: []string{"virtio", "virtio_ring"}},
		"nls_iso8859_1": {path: "kernel/fs/nls/nls_iso8859-1.ko.xz"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseDep() = %+v, want %+v", got, want)
	}
	if _, err := parseDep(strings.NewReader("no colon here\n")); err == nil {
		t.Errorf("parseDep(no colon) error = nil, want an error")
	}
}

func FuzzParseDep(f *testing.F) {
	f.Add("a.ko: b.ko c.ko\nb.ko:\n")
	f.Add("x")
	f.Fuzz(func(t *testing.T, s string) {
		dep, err := parseDep(strings.NewReader(s))
		if err != nil {
			return
		}
		for name, e := range dep {
			if name != nameFromPath(e.path) {
				t.Errorf("parseDep: %q has path %q", name, e.path)
			}
		}
	})
}

func FuzzFnmatch(f *testing.F) {
	f.Add("pci:v*d*", "pci:v1d2")
	f.Add("[a-", "a")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		fnmatch(pattern, name)
		if !fnmatch(name, name) && !strings.ContainsAny(name, "*?[") {
			t.Errorf("fnmatch(%q, %q) = false, want true", name, name)
		}
	})
}
