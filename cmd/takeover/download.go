package main

import (
	"github.com/spf13/cobra"

	"github.com/takeover-dev/takeover/stage1"
)

func newDownloadCmd() *cobra.Command {
	o := stage1.Defaults()
	cmd := &cobra.Command{
		Use:   "download -c config.json [-v VERSION] [-w DIR]",
		Short: "Download and validate a balenaOS image; works on any machine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.DownloadOnly = true
			return stage1.Download(cmd.Context(), o)
		},
	}
	fs := cmd.Flags()
	addConfigFlag(fs, &o)
	addImageFlags(fs, &o)
	addLogFlags(fs, &o)
	fs.StringVar(&o.ChangeDTTo, "change-dt-to", "", "download for this device type instead of config.json's")
	return cmd
}
