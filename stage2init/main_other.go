//go:build !linux

package stage2init

import (
	"fmt"
	"os"
	"time"
)

// Main is stage2 as PID 1, which only Linux has. Elsewhere it says so and
// waits forever: like the Linux Main, it never returns.
func Main() {
	fmt.Fprintln(os.Stderr, "takeover: stage2 runs only as PID 1 on Linux")
	for {
		time.Sleep(time.Hour)
	}
}
