package main

import (
	"github.com/spf13/cobra"

	"github.com/takeover-dev/takeover/stage1"
)

func newBootCmd() *cobra.Command {
	o := stage1.Defaults()
	cmd := &cobra.Command{
		Use:   "boot --initrd FILE",
		Short: "Add the device archive and kexec into the takeover initramfs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return stage1.Boot(cmd.Context(), o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Initrd, "initrd", "", "payload archive written by build-initrd")
	fs.StringVar(&o.Kernel, "kernel", "", "kernel image to kexec (default: the running kernel's, found in /boot)")
	fs.StringVarP(&o.WorkDir, "work-dir", "w", o.WorkDir,
		"where the combined initramfs is written (a disk, not tmpfs)")
	addDeviceFlags(fs, &o)
	addLogFlags(fs, &o)
	fs.BoolVar(&o.NoAck, "no-ack", false, "do not ask for confirmation")
	return cmd
}
