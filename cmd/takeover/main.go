// Command takeover migrates a running Linux machine in place to balenaOS.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/initswap"
	"github.com/takeover-dev/takeover/stage1"
)

func main() {
	if os.Getpid() == 1 {
		initswap.EnterIfSwapped() // returns at once when started from an initramfs
		runStage2()               // never returns
	}
	stage1.ToolVersion = buildVersion()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		code := exitcode.Of(err)
		fmt.Fprintf(os.Stderr, "takeover: %v (exit %d, %s)\n", err, code, code)
		os.Exit(int(code))
	}
}
