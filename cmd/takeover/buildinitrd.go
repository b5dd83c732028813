package main

import (
	"github.com/spf13/cobra"

	"github.com/takeover-dev/takeover/stage1"
)

func newBuildInitrdCmd() *cobra.Command {
	o := stage1.Defaults()
	cmd := &cobra.Command{
		Use:   "build-initrd -c config.json (-i IMAGE | -v VERSION) -o FILE",
		Short: "Pack the portable payload archive of the initramfs; may run offline on a workstation",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return stage1.BuildInitrd(cmd.Context(), o)
		},
	}
	fs := cmd.Flags()
	addConfigFlag(fs, &o)
	addImageFlags(fs, &o)
	addLogFlags(fs, &o)
	addPayloadFlags(fs, &o)
	fs.BoolVar(&o.Pretend, "pretend", false, "stage2 stops before the first write")
	fs.StringVarP(&o.Output, "output", "o", "", "where to write the payload archive")
	fs.StringVar(&o.Hostname, "hostname", "",
		"hostname for config.json; build-initrd reads no network settings or hostname of this machine")
	fs.StringVar(&o.Arch, "arch", o.Arch, "target architecture: amd64, arm64, arm (GOARCH names)")
	fs.StringVar(&o.Stage2Binary, "stage2-binary", "",
		"takeover binary for --arch (default: this binary, or takeover-linux-<arch> beside it)")
	return cmd
}
