package main

import (
	"github.com/spf13/cobra"

	"github.com/takeover-dev/takeover/stage2init"
)

// runStage2 becomes PID 1's work in the initramfs; it never returns.
func runStage2() {
	stage2init.Main()
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
