package main

import (
	"github.com/spf13/cobra"

	"github.com/takeover-dev/takeover/stage1"
)

func newInspectInitrdCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect-initrd FILE",
		Short: "List what an initramfs holds and print its plan (secrets redacted)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return stage1.InspectInitrd(args[0], cmd.OutOrStdout())
		},
	}
}
