// Package initswap is the boot path taken when kexec is unavailable or
// refused: stage1 unpacks the combined initramfs into a tmpfs, bind-mounts
// the unpacked /init over the running init's executable and makes init
// re-execute itself; that new PID 1 pivots into the tmpfs, stops every other
// process, unmounts the old root and runs the same stage2 as after a kexec.
//
// Prepare is the stage1 half, EnterIfSwapped the PID 1 half.
package initswap

import (
	"time"

	"github.com/sirupsen/logrus"
)

// Dir is where stage1 mounts the tmpfs that becomes the root of stage2.
const Dir = "/run/takeover-swap"

// Paths inside the new root.
const (
	markerPath = "/takeover/initswap.json" // says "swap mode", written last
	oldRootDir = "/oldroot"                // where pivot_root puts the old root
	telinitDir = "/takeover/bin"           // a safe copy of a telinit that is init
)

// pid1Name is the command name PID 1 takes when it is takeover in swap
// mode; stage1 waits for it to know the swap has begun.
const pid1Name = "takeover-swap"

// Options are the settings of Prepare.
type Options struct {
	Combined string // combined initramfs (payload + device archives)
	Pretend  bool   // check everything, change nothing
	Log      logrus.FieldLogger

	Root     string // file system root holding init, systemctl, telinit; "/" when empty
	ProcRoot string // procfs, "/proc" when empty

	// ReexecTimeout bounds the wait for PID 1 to become takeover.
	ReexecTimeout time.Duration

	// BeforeSwitch, when set, runs after every reversible step, just before
	// PID 1 is made to re-execute; its error undoes the swap.
	BeforeSwitch func() error
}

func (o Options) withDefaults() Options {
	if o.Root == "" {
		o.Root = "/"
	}
	if o.ProcRoot == "" {
		o.ProcRoot = "/proc"
	}
	if o.ReexecTimeout == 0 {
		o.ReexecTimeout = 60 * time.Second
	}
	if o.Log == nil {
		o.Log = logrus.New()
	}
	return o
}
