// Package preflight runs every check that must pass before a migration
// changes anything: `takeover check` prints them, and the migration refuses
// to start while one fails. Each check reads a root path argument (fake
// trees in tests) and says, when it fails, how to fix it.
package preflight

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sirupsen/logrus"
)

// Status of one check.
type Status string

// The statuses a check ends in. Only StatusFail stops a migration.
const (
	StatusOK   Status = "ok"
	StatusWarn Status = "warn"
	StatusFail Status = "fail"
	StatusSkip Status = "skip"
)

// Check is the outcome of one check.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"` // set whenever Status is fail or warn
}

// Report is the outcome of every check, in the order they ran.
type Report struct {
	Checks []Check `json:"checks"`
}

// Failed reports whether any check failed.
func (r Report) Failed() bool {
	for _, c := range r.Checks {
		if c.Status == StatusFail {
			return true
		}
	}
	return false
}

// WriteTable prints the report for a person: one line per check, and the
// fix under each check that did not pass.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tDETAIL")
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.Status, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(tw, "\tfix:\t%s\n", c.Fix)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing check table: %w", err)
	}
	return nil
}

// WriteJSON prints the report for a program.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("writing check report: %w", err)
	}
	return nil
}

// Options say what to check and against what.
type Options struct {
	Root        string // "/" on a device; a fake tree in tests
	DeviceType  string // config.json deviceType
	APIEndpoint string // config.json apiEndpoint
	// APIPing calls the API's /ping; the caller wires its API client here.
	APIPing     func(ctx context.Context) error
	VPNEndpoint string // config.json vpnEndpoint
	VPNPort     int    // config.json vpnPort; 0 means balena's default, 443
	Timeout     time.Duration

	// NoOSCheck and NoDTCheck turn an OS or device mismatch into a
	// warning; NoAPICheck and NoVPNCheck skip the network checks.
	NoOSCheck, NoDTCheck, NoAPICheck, NoVPNCheck bool

	NeedRoot       bool  // fail, rather than warn, when not running as root
	MinMemory      int64 // bytes the migration needs in RAM; 0 when not known yet
	TargetDisk     string
	TargetDiskSize int64 // bytes
	ImageRawSize   int64 // bytes of the image once decompressed
	Log            logrus.FieldLogger
}

// DefaultTimeout bounds each network check when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Run performs every check. It never stops early: the report lists all
// that is wrong at once.
func Run(ctx context.Context, o Options) Report {
	o.Root = rootOr(o.Root)
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	log := o.Log
	if log == nil {
		log = discard()
	}
	var r Report
	for _, check := range []func(context.Context, Options) Check{
		checkRoot,
		checkOS,
		checkDevice,
		checkAPI,
		checkVPN,
		checkMemory,
		checkDisk,
	} {
		c := check(ctx, o)
		log.WithFields(logrus.Fields{"check": c.Name, "status": c.Status, "detail": c.Detail}).
			Debug("preflight check")
		r.Checks = append(r.Checks, c)
	}
	return r
}

// geteuid is replaced in tests.
var geteuid = os.Geteuid

func checkRoot(_ context.Context, o Options) Check {
	c := Check{Name: "root"}
	if geteuid() == 0 {
		c.Status, c.Detail = StatusOK, "running as root"
		return c
	}
	c.Status, c.Detail = StatusWarn, fmt.Sprintf("running as uid %d", geteuid())
	c.Fix = "run takeover as root (sudo) for the migration"
	if o.NeedRoot {
		c.Status = StatusFail
	}
	return c
}

// downgrade turns a failure the user chose to ignore into a warning.
func downgrade(c Check, ignored bool, flag string) Check {
	if ignored && c.Status == StatusFail {
		c.Status = StatusWarn
		c.Detail += " (ignored: " + flag + ")"
	}
	return c
}

func discard() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

func mib(n int64) string { return fmt.Sprintf("%d MiB", (n+1<<20-1)>>20) }

// rootOr makes "" mean the real root rather than the working directory.
func rootOr(root string) string {
	if root == "" {
		return "/"
	}
	return root
}

func trimNul(b []byte) string { return strings.TrimRight(string(b), "\x00\n ") }
