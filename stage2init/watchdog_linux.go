package stage2init

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// startWatchdog feeds /dev/watchdog0 if a watchdog is already running
// (opening an idle one would arm it). It feeds at a third of the timeout.
func startWatchdog(sysRoot string) {
	dir := filepath.Join(sysRoot, "class", "watchdog", "watchdog0")
	state, err := os.ReadFile(filepath.Join(dir, "state"))
	if err != nil || strings.TrimSpace(string(state)) != "active" {
		return
	}
	interval := 5 * time.Second
	if b, err := os.ReadFile(filepath.Join(dir, "timeout")); err == nil {
		if s, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && s >= 3 {
			interval = time.Duration(s) * time.Second / 3
		}
	}
	f, err := os.OpenFile("/dev/watchdog0", os.O_WRONLY, 0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "takeover: cannot feed the running watchdog: %v\n", err)
		return
	}
	go func() {
		for {
			f.Write([]byte{0}) // a failed feed shows when the watchdog resets the machine
			time.Sleep(interval)
		}
	}()
}
