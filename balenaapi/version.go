package balenaapi

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// ErrNoVersion is matched when no listed version satisfies a spec.
var ErrNoVersion = errors.New("no matching balenaOS version")

var rangeRE = regexp.MustCompile(`^[~^]\d+(\.\d+){0,2}$`)

// SelectVersion picks a balenaOS version from the API's list:
//
//   - "", "default" or "latest": the newest version without a prerelease;
//   - "~x.y[.z]" or "^x.y[.z]": the newest non-prerelease version in range;
//   - anything else must equal a listed version exactly, build metadata
//     included (4.0.26+rev is not 4.0.26).
//
// Build metadata breaks ties: 5.1.20+rev1 is newer than 5.1.20, and +rev10
// newer than +rev9. Versions that are not strict semver are skipped and
// returned, so the caller can warn about them.
func SelectVersion(versions []string, spec string) (chosen string, skipped []string, err error) {
	parsed, skipped := parseVersions(versions)
	spec = strings.TrimSpace(spec)
	match, err := specMatcher(spec)
	if err != nil {
		return "", skipped, err
	}
	sort.SliceStable(parsed, func(i, j int) bool { return compareVersions(parsed[i], parsed[j]) > 0 })
	for _, v := range parsed {
		if match(v) {
			return v.Original(), skipped, nil
		}
	}
	return "", skipped, fmt.Errorf("%w: %q among %d listed versions",
		ErrNoVersion, spec, len(versions))
}

func parseVersions(versions []string) (parsed []*semver.Version, skipped []string) {
	for _, s := range versions {
		v, err := semver.StrictNewVersion(s)
		if err != nil {
			skipped = append(skipped, s)
			continue
		}
		parsed = append(parsed, v)
	}
	return parsed, skipped
}

// specMatcher turns a version spec into a test on listed versions.
func specMatcher(spec string) (func(*semver.Version) bool, error) {
	switch {
	case spec == "" || spec == "default" || spec == "latest":
		return func(v *semver.Version) bool { return v.Prerelease() == "" }, nil
	case strings.HasPrefix(spec, "~") || strings.HasPrefix(spec, "^"):
		if !rangeRE.MatchString(spec) {
			return nil, fmt.Errorf("parsing version spec %q: want ~x.y[.z] or ^x.y[.z]", spec)
		}
		c, err := semver.NewConstraint(spec)
		if err != nil {
			return nil, fmt.Errorf("parsing version spec %q: %w", spec, err)
		}
		return func(v *semver.Version) bool { return v.Prerelease() == "" && c.Check(v) }, nil
	default:
		want, err := semver.StrictNewVersion(spec)
		if err != nil {
			return nil, fmt.Errorf("parsing version spec %q: want default, ~x.y[.z], ^x.y[.z] "+
				"or an exact version such as 5.1.20+rev1: %w", spec, err)
		}
		return func(v *semver.Version) bool {
			return v.Equal(want) && v.Metadata() == want.Metadata()
		}, nil
	}
}

// compareVersions orders by semver precedence, then by build metadata.
func compareVersions(a, b *semver.Version) int {
	if c := a.Compare(b); c != 0 {
		return c
	}
	return compareMetadata(a.Metadata(), b.Metadata())
}

// compareMetadata orders build metadata dot-separated identifier by
// identifier: none sorts first, digits compare as numbers ("rev10" after
// "rev9"), and a longer list after its own prefix.
func compareMetadata(a, b string) int {
	if a == b {
		return 0
	}
	if a == "" || b == "" {
		return boolCompare(a != "", b != "")
	}
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if c := compareIdent(as[i], bs[i]); c != 0 {
			return c
		}
	}
	return len(as) - len(bs)
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	default:
		return -1
	}
}

// compareIdent compares identifiers in natural order: runs of digits as
// numbers ("rev9" before "rev10"), other runs as strings, a digit run
// before a letter run. Equal runs ("rev01", "rev1") fall back to the
// string, so the order stays total.
func compareIdent(a, b string) int {
	ra, rb := runs(a), runs(b)
	for i := 0; i < len(ra) && i < len(rb); i++ {
		if c := compareRun(ra[i], rb[i]); c != 0 {
			return c
		}
	}
	if len(ra) != len(rb) {
		return len(ra) - len(rb)
	}
	return strings.Compare(a, b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// runs splits s into maximal runs of digits and of other bytes.
func runs(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		j := i + 1
		for j < len(s) && isDigit(s[j]) == isDigit(s[i]) {
			j++
		}
		out = append(out, s[i:j])
		i = j
	}
	return out
}

func compareRun(a, b string) int {
	da, db := isDigit(a[0]), isDigit(b[0])
	if da != db {
		return boolCompare(db, da) // digits first
	}
	if !da {
		return strings.Compare(a, b)
	}
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}
