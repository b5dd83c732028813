package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/stage1"
)

func newRootCmd() *cobra.Command {
	o := stage1.Defaults()
	var showVersion bool
	cmd := &cobra.Command{
		Use:   "takeover -c config.json [flags]",
		Short: "Migrate this machine in place to balenaOS",
		Long: `takeover migrates a running Linux machine in place to balenaOS.

WARNING: it overwrites the whole target disk. Run 'takeover check' and
'takeover -c config.json --pretend' first.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if showVersion {
				fmt.Fprintln(cmd.OutOrStdout(), versionString())
				return nil
			}
			if o.Stage2 {
				runStage2()
			}
			return stage1.Migrate(cmd.Context(), o)
		},
	}
	cmd.SetFlagErrorFunc(usageError)
	fs := cmd.Flags()
	addConfigFlag(fs, &o)
	addImageFlags(fs, &o)
	addLogFlags(fs, &o)
	addCheckFlags(fs, &o)
	addPayloadFlags(fs, &o)
	addDeviceFlags(fs, &o)
	fs.BoolVar(&o.NoAck, "no-ack", false, "do not ask for confirmation")
	fs.BoolVarP(&o.DownloadOnly, "download-only", "d", false, "download and validate the image, then stop")
	fs.BoolVar(&o.NoCleanup, "no-cleanup", false, "keep the staged files in the work directory after a failure")
	fs.BoolVar(&o.Stage2, "stage2", false, "internal: run stage2; only as PID 1 in the takeover initramfs")
	fs.BoolVar(&showVersion, "tool-version", false, "print takeover's own version and exit")
	cmd.AddCommand(newCheckCmd(), newDownloadCmd(), newBuildInitrdCmd(), newBootCmd(),
		newInspectInitrdCmd(), newVersionCmd(), newStage2Cmd())
	for _, c := range cmd.Commands() {
		c.SetFlagErrorFunc(usageError)
		if c.Args != nil {
			c.Args = usageArgs(c.Args)
		}
	}
	cmd.Args = usageArgs(cmd.Args)
	return cmd
}

// usageError tags flag parsing errors with the usage exit code.
func usageError(_ *cobra.Command, err error) error {
	return exitcode.With(exitcode.Usage, err)
}

// usageArgs tags argument errors with the usage exit code.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		return exitcode.With(exitcode.Usage, check(cmd, args))
	}
}
