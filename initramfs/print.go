package initramfs

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/takeover-dev/takeover/plan"
)

// secretKeys are plan keys whose values Print never shows. The plan carries
// no secrets by design; this guards against one slipping in.
var secretKeys = map[string]bool{"apikey": true, "deviceapikey": true, "psk": true}

// Print writes the listing as `takeover inspect-initrd` shows it: the
// segments, a table of members, the plans with secrets redacted, and any
// problems found.
func (l *Listing) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, s := range l.Segments {
		fmt.Fprintf(tw, "segment %d\toffset %d\t%d bytes\t%s\t\n", i, s.Offset, s.Size, s.Compression)
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "SEG\tMODE\tUID\tGID\tSIZE\tRDEV\tNAME\n")
	for _, m := range l.Members {
		rdev := ""
		if m.Mode&os.ModeDevice != 0 {
			rdev = fmt.Sprintf("%d:%d", m.Rmajor, m.Rminor)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%s\t%s\n",
			m.Segment, modeString(m.Mode), m.UID, m.GID, m.Size, rdev, m.Name)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if err := printPlan(w, plan.PayloadPlanPath, l.Payload); err != nil {
		return err
	}
	if err := printPlan(w, plan.DevicePlanPath, l.Device); err != nil {
		return err
	}
	return printProblems(w, l.Problems)
}

// printPlan prints a plan as indented JSON with secret values redacted.
func printPlan[T any](w io.Writer, name string, p *T) error {
	if p == nil {
		_, err := fmt.Fprintf(w, "\n%s: none\n", name)
		return err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", name, err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("decoding %s: %w", name, err)
	}
	out, err := json.MarshalIndent(redact(doc), "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", name, err)
	}
	_, err = fmt.Fprintf(w, "\n%s:\n%s\n", name, out)
	return err
}

// redact replaces the value of every secret key, at any depth.
func redact(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if secretKeys[strings.ToLower(k)] {
				t[k] = "<redacted>"
				continue
			}
			t[k] = redact(val)
		}
	case []any:
		for i := range t {
			t[i] = redact(t[i])
		}
	}
	return v
}

func printProblems(w io.Writer, problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	if _, err := fmt.Fprintf(w, "\nproblems:\n"); err != nil {
		return err
	}
	for _, p := range problems {
		if _, err := fmt.Fprintf(w, "  %s\n", p); err != nil {
			return err
		}
	}
	return nil
}

// modeString is ls-style, with c for a char device.
func modeString(m os.FileMode) string {
	s := m.String()
	perm := s[len(s)-9:]
	switch {
	case m&os.ModeCharDevice != 0:
		return "c" + perm
	case m&os.ModeDevice != 0:
		return "b" + perm
	case m.IsDir():
		return "d" + perm
	case m&os.ModeSymlink != 0:
		return "l" + perm
	case m.IsRegular():
		return "-" + perm
	}
	return "?" + perm
}
