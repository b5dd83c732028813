package exitcode

import (
	"errors"
	"fmt"
	"testing"
)

func TestOf(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want Code
	}{
		{name: "nil", err: nil, want: OK},
		{name: "untagged", err: base, want: Internal},
		{name: "tagged", err: With(Fetch, base), want: Fetch},
		{name: "wrapped tag", err: fmt.Errorf("downloading: %w", With(Fetch, base)), want: Fetch},
		{name: "innermost wins", err: With(Usage, fmt.Errorf("x: %w", With(Verify, base))), want: Verify},
	}
	for _, tt := range tests {
		if got := Of(tt.err); got != tt.want {
			t.Errorf("%s: Of(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestWithKeepsChain(t *testing.T) {
	err := fmt.Errorf("a: %w", With(Flash, base()))
	if !errors.Is(err, errBase) {
		t.Errorf("errors.Is lost the base error through With")
	}
	if With(Flash, nil) != nil {
		t.Errorf("With(Flash, nil) != nil")
	}
}

var errBase = errors.New("base")

func base() error { return errBase }

func TestNamesCoverAll(t *testing.T) {
	seen := map[Code]bool{}
	for _, c := range All() {
		if c.String() == "unknown" {
			t.Errorf("code %d has no name", c)
		}
		if seen[c] {
			t.Errorf("code %d listed twice", c)
		}
		seen[c] = true
	}
}
