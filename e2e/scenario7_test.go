//go:build e2e

package e2e

import (
	"testing"

	"github.com/takeover-dev/takeover/internal/vmtest"
)

// Markers of the init swap.
const (
	markSwapFallback = "falling back to the init swap"
	markSwapPID1     = "PID 1 is takeover: entering the new root"
	markSwapStopped  = "the old OS is stopped and its disks unmounted"
	markSwapFailed   = "TAKEOVER-INITSWAP-FAILED"
)

// TestInitSwapBoot is scenario 7: kexec is disabled by sysctl on the old
// OS, so `takeover boot` falls back to the init swap: systemd re-executes
// into takeover, which pivots into a tmpfs, stops the old OS, unmounts its
// disk, and the same stage2 flashes, verifies and reboots.
func TestInitSwapBoot(t *testing.T) {
	timed(t)
	s := newScenario(t, scenarioOptions{})
	payload := buildInitrdOnHost(t, s)
	script := `sysctl -w kernel.kexec_load_disabled=1
mkdir -p /var/lib/takeover && /usr/local/bin/takeover boot --no-ack \
  --initrd /var/lib/takeover/payload.cpio -w /var/lib/takeover --log-level debug`
	disk := scenarioDisk(t, s.os, s.guestFiles(script,
		vmtest.File{Path: "/var/lib/takeover/payload.cpio", Source: payload, Mode: 0o600}))

	vm := bootOldOS(t, s.os, vmtest.Disk{Path: disk}, s.forwards())
	expect(t, vm, "OLD-OS-BOOTED", bootTimeout, markPanic)
	swapFailures := append([]string{markSwapFailed}, failures...)
	expect(t, vm, "kernel.kexec_load_disabled = 1", stage2Timeout, swapFailures...)
	expect(t, vm, markSwapFallback, stage2Timeout, swapFailures...)
	expect(t, vm, markSwapPID1, stage2Timeout, swapFailures...)
	expect(t, vm, markSwapStopped, stage2Timeout, swapFailures...)
	expect(t, vm, markStart+" pid=1", stage2Timeout, swapFailures...)
	expectStage2Success(t, vm)

	verified, _ := vm.Find(markVerify)
	checkVerifiedDigest(t, s.image, verified)
	checkImageBytes(t, s.image, disk)
	boot := s.image.partition(t, "resin-boot")
	config, err := vmtest.ReadVFAT(disk, boot.Start, "/config.json")
	must(t, err)
	pass(t, "config.json written to resin-boot (%d bytes)", len(config))
	newOS := bootNewOS(t, s.os, disk, s.marker)
	checkConfigDigest(t, newOS, config)
}
