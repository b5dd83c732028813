// Command vminit is /init for stage2init's QEMU test: stage2 as PID 1 and
// nothing else, as cmd/takeover runs it.
package main

import "github.com/takeover-dev/takeover/stage2init"

func main() { stage2init.Main() }
