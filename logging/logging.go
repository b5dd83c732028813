// Package logging sets up takeover's logrus logger: short lines on the
// console for people, every field in the log file, and redaction of
// secrets (API keys, Wi-Fi passphrases) in every line, wherever it goes.
package logging

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
)

// Levels lists the accepted level names, as the original tool has them.
var Levels = []string{"error", "warn", "info", "debug", "trace"}

// ParseLevel parses a --log-level value.
func ParseLevel(s string) (logrus.Level, error) {
	for _, l := range Levels {
		if strings.EqualFold(s, l) {
			return logrus.ParseLevel(l)
		}
	}
	return 0, fmt.Errorf("unknown log level %q; use one of %s", s, strings.Join(Levels, ", "))
}

// Options configure New.
type Options struct {
	Level   logrus.Level
	Console io.Writer // usually os.Stderr
	File    string    // --log-file: full fields, appended; "" for none
}

// Logger is the configured logger with its redactor and open file.
type Logger struct {
	*logrus.Logger
	Redactor *Redactor
	file     *os.File
}

// New builds the logger. Close it to flush and close the log file.
func New(o Options) (*Logger, error) {
	red := &Redactor{}
	l := logrus.New()
	l.SetLevel(o.Level)
	l.SetOutput(io.Discard)
	l.AddHook(&writerHook{w: o.Console, f: &consoleFormatter{}, red: red, level: o.Level})
	lg := &Logger{Logger: l, Redactor: red}
	if o.File != "" {
		f, err := os.OpenFile(o.File, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("opening log file %s: %w", o.File, err)
		}
		lg.file = f
		l.AddHook(&writerHook{w: f, f: &logrus.TextFormatter{FullTimestamp: true, DisableColors: true},
			red: red, level: o.Level})
	}
	return lg, nil
}

// Close closes the log file, if any.
func (l *Logger) Close() error {
	if l.file == nil {
		return nil
	}
	return l.file.Close()
}

// Redactor replaces registered secrets with "<redacted>".
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
}

// Add registers secrets; empty strings and very short ones (which would
// blank out ordinary words) are ignored.
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if len(s) >= 4 {
			r.secrets = append(r.secrets, s)
		}
	}
	// Longest first, so a secret containing another is replaced whole.
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
}

// Redact returns s with every registered secret replaced.
func (r *Redactor) Redact(s string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, "<redacted>")
	}
	return s
}

type writerHook struct {
	mu    sync.Mutex
	w     io.Writer
	f     logrus.Formatter
	red   *Redactor
	level logrus.Level
}

func (h *writerHook) Levels() []logrus.Level { return logrus.AllLevels[:h.level+1] }

func (h *writerHook) Fire(e *logrus.Entry) error {
	b, err := h.f.Format(e)
	if err != nil {
		return fmt.Errorf("formatting log entry: %w", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err = io.WriteString(h.w, h.red.Redact(string(b)))
	return err
}

// consoleFormatter prints "level message key=value ..." without a
// timestamp: one short line a person can read.
type consoleFormatter struct{}

func (consoleFormatter) Format(e *logrus.Entry) ([]byte, error) {
	var b strings.Builder
	if e.Level != logrus.InfoLevel {
		b.WriteString(strings.ToUpper(e.Level.String()))
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	keys := make([]string, 0, len(e.Data))
	for k := range e.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := fmt.Sprint(e.Data[k])
		if strings.ContainsAny(v, " \t\"=") {
			v = fmt.Sprintf("%q", v)
		}
		fmt.Fprintf(&b, " %s=%s", k, v)
	}
	b.WriteByte('\n')
	return []byte(b.String()), nil
}
