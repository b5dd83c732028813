package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/stage2init"
)

// runStage2 becomes PID 1's work in the initramfs; as PID 1 it never
// returns. Anywhere else stage2 refuses at once, before touching anything.
func runStage2() {
	err := stage2init.Main()
	fmt.Fprintf(os.Stderr, "takeover: %v\n", err)
	os.Exit(int(exitcode.Usage))
}

func newStage2Cmd() *cobra.Command {
	return &cobra.Command{
		Use:    "stage2",
		Short:  "Internal: run stage2 as PID 1",
		Hidden: true,
		Args:   cobra.ArbitraryArgs, // an init may be passed arguments it does not know
		Run:    func(*cobra.Command, []string) { runStage2() },
	}
}
