package balenaapi

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
)

// original is the version list of the original takeover's unit test.
var original = []string{"5.1.20+rev1", "3.2.25", "3.3.0", "4.0.26+rev", "5.0.1+rev1", "0.0.0+rev60"}

func TestSelectVersion(t *testing.T) {
	tests := []struct {
		name     string
		versions []string
		spec     string
		want     string
		skipped  []string
		wantErr  error
	}{
		{name: "default", versions: original, spec: "default", want: "5.1.20+rev1"},
		{name: "empty spec", versions: original, spec: "", want: "5.1.20+rev1"},
		{name: "latest", versions: original, spec: "latest", want: "5.1.20+rev1"},
		{name: "caret", versions: original, spec: "^3.2", want: "3.3.0"},
		{name: "tilde", versions: original, spec: "~3.2.8", want: "3.2.25"},
		{name: "tilde minor", versions: original, spec: "~3.2", want: "3.2.25"},
		{name: "exact with build", versions: original, spec: "4.0.26+rev", want: "4.0.26+rev"},
		{name: "exact without build is not a match", versions: original, spec: "4.0.26",
			wantErr: ErrNoVersion},
		{name: "exact wrong build", versions: original, spec: "5.1.20+rev2",
			wantErr: ErrNoVersion},
		{name: "build breaks the tie", versions: []string{"5.1.20", "5.1.20+rev1"},
			spec: "default", want: "5.1.20+rev1"},
		{name: "rev compares as a number",
			versions: []string{"5.1.20+rev10", "5.1.20+rev9", "5.1.20+rev2"},
			spec:     "", want: "5.1.20+rev10"},
		{name: "rev2 over rev1 in either order", versions: []string{"2.0.2+rev1", "2.0.2+rev2"},
			spec: "default", want: "2.0.2+rev2"},
		{name: "prerelease skipped by default", versions: []string{"6.0.0-beta1", "5.9.9"},
			spec: "default", want: "5.9.9"},
		{name: "prerelease skipped by range", versions: []string{"3.4.0-rc1+rev1", "3.3.1"},
			spec: "^3.3", want: "3.3.1"},
		{name: "prerelease exact", versions: []string{"6.0.0-beta1", "5.9.9"},
			spec: "6.0.0-beta1", want: "6.0.0-beta1"},
		{name: "unparseable skipped", versions: []string{"v2.1.0", "2.1", "junk", "2.0.0+rev3"},
			spec: "default", want: "2.0.0+rev3", skipped: []string{"v2.1.0", "2.1", "junk"}},
		{name: "only prereleases", versions: []string{"1.0.0-rc1"}, spec: "default",
			wantErr: ErrNoVersion},
		{name: "empty list", versions: nil, spec: "default", wantErr: ErrNoVersion},
		{name: "caret out of range", versions: original, spec: "^6", wantErr: ErrNoVersion},
	}
	for _, tt := range tests {
		got, skipped, err := SelectVersion(tt.versions, tt.spec)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("%s: SelectVersion(%q, %q) = %q, %v, want error %v",
					tt.name, tt.versions, tt.spec, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: SelectVersion(%q, %q) = %q, %v, want %q",
				tt.name, tt.versions, tt.spec, got, err, tt.want)
		}
		if !slices.Equal(skipped, tt.skipped) {
			t.Errorf("%s: SelectVersion(%q, %q) skipped %q, want %q",
				tt.name, tt.versions, tt.spec, skipped, tt.skipped)
		}
	}
}

func TestSelectVersionBadSpec(t *testing.T) {
	bad := []string{">=3.0.0", "^3.x", "~3.2.8 || ^4", "v5.1.20", "5.1", "~", "^3.2.8.1"}
	for _, spec := range bad {
		if got, _, err := SelectVersion(original, spec); err == nil || errors.Is(err, ErrNoVersion) {
			t.Errorf("SelectVersion(original, %q) = %q, %v, want a spec error", spec, got, err)
		}
	}
}

func TestCompareMetadata(t *testing.T) {
	tests := []struct {
		a, b string
		want int // sign
	}{
		{a: "", b: "rev1", want: -1},
		{a: "rev1", b: "rev2", want: -1},
		{a: "rev10", b: "rev9", want: 1},
		{a: "rev1", b: "rev1.dev", want: -1},
		{a: "rev1.prod", b: "rev1.prod", want: 0},
		{a: "rev", b: "rev1", want: -1},
	}
	for _, tt := range tests {
		got := compareMetadata(tt.a, tt.b)
		if sign(got) != tt.want {
			t.Errorf("compareMetadata(%q, %q) = %d, want sign %d", tt.a, tt.b, got, tt.want)
		}
		if sign(compareMetadata(tt.b, tt.a)) != -tt.want {
			t.Errorf("compareMetadata(%q, %q) is not antisymmetric", tt.b, tt.a)
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// FuzzSelectVersion checks what any choice must satisfy: it is one of the
// listed versions, it matches the spec, and no listed match is newer.
func FuzzSelectVersion(f *testing.F) {
	f.Add(strings.Join(original, ","), "default")
	f.Add(strings.Join(original, ","), "^3.2")
	f.Add("1.0.0+rev01,1.0.0+rev1,1.0.0+a10b,1.0.0+a9", "~1.0")
	f.Add("1.2.3-rc.1+x,1.2.3", "1.2.3-rc.1+x")
	f.Fuzz(func(t *testing.T, list, spec string) {
		versions := strings.Split(list, ",")
		got, skipped, err := SelectVersion(versions, spec)
		for _, s := range skipped {
			if _, perr := semver.StrictNewVersion(s); perr == nil {
				t.Fatalf("SelectVersion skipped %q, a valid version", s)
			}
		}
		if err != nil {
			return
		}
		if !slices.Contains(versions, got) {
			t.Fatalf("SelectVersion(%q, %q) = %q, not in the list", versions, spec, got)
		}
		match, merr := specMatcher(strings.TrimSpace(spec))
		if merr != nil {
			t.Fatalf("SelectVersion accepted spec %q that specMatcher refuses: %v", spec, merr)
		}
		g := semver.MustParse(got)
		if !match(g) {
			t.Fatalf("SelectVersion(%q, %q) = %q, which does not match", versions, spec, got)
		}
		for _, s := range versions {
			v, perr := semver.StrictNewVersion(s)
			if perr == nil && match(v) && compareVersions(v, g) > 0 {
				t.Fatalf("SelectVersion(%q, %q) = %q, but %q is newer", versions, spec, got, s)
			}
		}
	})
}
