package main

import (
	"bufio"
	"bytes"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/takeover-dev/takeover/exitcode"
)

func TestRootFlags(t *testing.T) {
	cmd := newRootCmd()
	cmd.InitDefaultHelpFlag()
	var got []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		got = append(got, strings.TrimSpace(f.Name+" "+f.Shorthand))
	})
	sort.Strings(got)
	want := readList(t, "testdata/root-flags.txt")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("root flags =\n%s\nwant (testdata/root-flags.txt)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOriginalDefaults(t *testing.T) {
	fs := newRootCmd().Flags()
	for name, want := range map[string]string{
		"log-level": "info", "fallback-log-filename": "fallback.log",
		"fallback-log-dir": "fallback_log", "check-timeout": "10", "work-dir": ".",
	} {
		if got := fs.Lookup(name).DefValue; got != want {
			t.Errorf("default of --%s = %q, want %q", name, got, want)
		}
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--help"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, line := range readList(t, "testdata/root-flags.txt") {
		name := strings.Fields(line)[0]
		if !strings.Contains(out.String(), "--"+name) {
			t.Errorf("takeover --help does not list --%s", name)
		}
	}
}

func TestFlagValidation(t *testing.T) {
	cfg := "../../testdata/config/valid.json"
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "unknown log level", args: []string{"-c", cfg, "--log-level", "loud"}, wantErr: "unknown log level"},
		{name: "image and version", args: []string{"-c", cfg, "-i", cfg, "-v", "5.1.20"}, wantErr: "exclude each other"},
		{name: "missing config", args: []string{"-c", "/nonexistent/config.json"}, wantErr: "no such file"},
		{name: "no config", args: []string{"--no-ack"}, wantErr: "-c/--config is required"},
		{name: "zero timeout", args: []string{"-c", cfg, "--check-timeout", "0"}, wantErr: "positive number"},
		{name: "negative timeout", args: []string{"-c", cfg, "--check-timeout", "-3"}, wantErr: "positive number"},
		{name: "config is a dir", args: []string{"-c", "."}, wantErr: "is a directory"},
		{name: "bad s2 level", args: []string{"-c", cfg, "--s2-log-level", "x"}, wantErr: "--s2-log-level"},
		{name: "log-to not a block device", args: []string{"-c", cfg, "-l", cfg, "--no-os-check"}, wantErr: "not a block device"},
	}
	for _, tt := range tests {
		cmd := newRootCmd()
		cmd.SetArgs(tt.args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: takeover %v = %v, want error containing %q", tt.name, tt.args, err, tt.wantErr)
			continue
		}
		if got := exitcode.Of(err); got != exitcode.Usage {
			t.Errorf("%s: exit code = %v, want usage", tt.name, got)
		}
	}
	cmd := newRootCmd()
	cmd.SetArgs([]string{"--check-timeout", "ten"})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "invalid argument") {
		t.Errorf("takeover --check-timeout ten = %v, want invalid argument", err)
	}
}

func readList(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if l := strings.TrimSpace(s.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

func TestBadFlagIsUsage(t *testing.T) {
	for _, args := range [][]string{{"--check-timeout", "ten"}, {"--no-such-flag"}, {"boot", "extra-arg"}} {
		cmd := newRootCmd()
		cmd.SetArgs(args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		if got := exitcode.Of(err); got != exitcode.Usage {
			t.Errorf("takeover %v: exit code = %v (%v), want usage", args, got, err)
		}
	}
}

func TestReportHUPProgressRefused(t *testing.T) {
	cmd := newRootCmd()
	cmd.SetArgs([]string{"-c", "../../testdata/config/valid.json", "--report-hup-progress"})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "not supported") || exitcode.Of(err) != exitcode.Usage {
		t.Errorf("takeover --report-hup-progress = %v, want a usage error saying it is not supported", err)
	}
}
