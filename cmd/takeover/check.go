package main

import (
	"github.com/spf13/cobra"

	"github.com/takeover-dev/takeover/stage1"
)

func newCheckCmd() *cobra.Command {
	o := stage1.Defaults()
	cmd := &cobra.Command{
		Use:   "check -c config.json",
		Short: "Run every preflight check and change nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return stage1.Check(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	fs := cmd.Flags()
	addConfigFlag(fs, &o)
	addLogFlags(fs, &o)
	addCheckFlags(fs, &o)
	fs.StringVarP(&o.FlashTo, "flash-to", "f", "", "disk to flash balenaOS to (default: the disk holding /)")
	fs.StringVarP(&o.Image, "image", "i", "", "also check this image against the target disk")
	fs.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	return cmd
}
