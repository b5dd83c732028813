package stage2init

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
)

// Console markers the end-to-end harness looks for.
const (
	markerStart       = "TAKEOVER-STAGE2-START"
	markerFlashed     = "TAKEOVER-STAGE2-FLASHED"
	markerVerified    = "TAKEOVER-STAGE2-VERIFIED"
	markerDone        = "TAKEOVER-STAGE2-DONE"
	markerPretendDone = "TAKEOVER-STAGE2-PRETEND-DONE"
	markerFailed      = "TAKEOVER-STAGE2-FAILED"
)

// kmsgMax keeps a kmsg record under the kernel's limit (about 1 KiB).
const kmsgMax = 900

// logger writes every entry to the console, to /dev/kmsg and to a memory
// buffer that is saved to disk at the end.
type logger struct {
	*logrus.Logger
	console io.Writer
	kmsg    io.Writer // nil when there is none
	mu      sync.Mutex
	buf     bytes.Buffer
}

func newLogger(console, kmsg io.Writer) *logger {
	l := &logger{Logger: logrus.New(), console: console, kmsg: kmsg}
	l.SetFormatter(&logrus.TextFormatter{DisableColors: true, FullTimestamp: true})
	l.SetOutput(io.MultiWriter(console, (*lockedBuffer)(l)))
	l.SetLevel(logrus.InfoLevel)
	if kmsg != nil {
		l.AddHook(kmsgHook{w: kmsg})
	}
	return l
}

// lockedBuffer is the logger's buffer behind its mutex.
type lockedBuffer logger

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// contents returns a copy of everything logged so far.
func (l *logger) contents() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.buf.Bytes())
}

// marker prints a line exactly as given on the console, into kmsg and into
// the saved log.
func (l *logger) marker(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	fmt.Fprintln(l.console, line)
	(*lockedBuffer)(l).Write([]byte(line + "\n"))
	if l.kmsg != nil {
		fmt.Fprintf(l.kmsg, "<5>takeover: %s\n", clip(line))
	}
}

// kmsgHook mirrors entries into /dev/kmsg as "<prio>takeover: msg k=v".
type kmsgHook struct{ w io.Writer }

func (kmsgHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h kmsgHook) Fire(e *logrus.Entry) error {
	keys := make([]string, 0, len(e.Data))
	for k := range e.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	sb.WriteString(e.Message)
	for _, k := range keys {
		fmt.Fprintf(&sb, " %s=%v", k, e.Data[k])
	}
	// A kmsg write error cannot be logged anywhere better; the console has
	// the line already.
	fmt.Fprintf(h.w, "<%d>takeover: %s\n", kmsgPriority(e.Level), clip(sb.String()))
	return nil
}

func kmsgPriority(l logrus.Level) int {
	switch l {
	case logrus.PanicLevel, logrus.FatalLevel:
		return 2
	case logrus.ErrorLevel:
		return 3
	case logrus.WarnLevel:
		return 4
	case logrus.InfoLevel:
		return 6
	default:
		return 7
	}
}

func clip(s string) string {
	s = strings.ReplaceAll(s, "\n", " | ")
	if len(s) > kmsgMax {
		return s[:kmsgMax] + "..."
	}
	return s
}
