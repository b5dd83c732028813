//go:build e2e

package e2e

import (
	"strings"
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
// disk, and the same stage2 flashes, verifies and reboots. A --pretend run
// first checks the swap and leaves the old OS as it was.
func TestInitSwapBoot(t *testing.T) {
	timed(t)
	s := newScenario(t, scenarioOptions{})
	payload := buildInitrdOnHost(t, s)
	script := `sysctl -w kernel.kexec_load_disabled=1
mkdir -p /var/lib/takeover
/usr/local/bin/takeover boot --pretend --no-ack --initrd /var/lib/takeover/payload.cpio \
  -w /var/lib/takeover
echo "OLD-OS-SWAP-PRETEND-EXIT rc=$? mounts=$(grep -c takeover-swap /proc/mounts)"
/usr/local/bin/takeover boot --no-ack --initrd /var/lib/takeover/payload.cpio \
  -w /var/lib/takeover --log-level debug`
	disk := scenarioDisk(t, s.os, s.guestFiles(script,
		vmtest.File{Path: "/var/lib/takeover/payload.cpio", Source: payload, Mode: 0o600}))

	vm := bootOldOS(t, s.os, vmtest.Disk{Path: disk}, s.forwards())
	expect(t, vm, "OLD-OS-BOOTED", bootTimeout, markPanic)
	swapFailures := append([]string{markSwapFailed}, failures...)
	expect(t, vm, "kernel.kexec_load_disabled = 1", stage2Timeout, swapFailures...)
	expect(t, vm, markSwapFallback, stage2Timeout, swapFailures...)
	expect(t, vm, "init swap pretend: every check passed", stage2Timeout, swapFailures...)
	expect(t, vm, "OLD-OS-SWAP-PRETEND-EXIT rc=0 mounts=0", stage2Timeout,
		append(swapFailures, markSwapPID1)...)
	pass(t, "boot --pretend checked the init swap, mounted nothing, and the old OS runs on")
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

// TestInitSwapUndo is scenario 7b: kexec is disabled and systemctl fails
// (/bin/false is bound over it), so PID 1 never re-executes. The init swap
// must undo itself: no tmpfs, no bind mount over systemd, systemd still
// PID 1 and able to re-execute itself, the disk as it was.
func TestInitSwapUndo(t *testing.T) {
	timed(t)
	s := newScenario(t, scenarioOptions{})
	payload := buildInitrdOnHost(t, s)
	script := `sysctl -w kernel.kexec_load_disabled=1
mkdir -p /var/lib/takeover
mount --bind /bin/false /usr/bin/systemctl
/usr/local/bin/takeover boot --no-ack --initrd /var/lib/takeover/payload.cpio \
  -w /var/lib/takeover
rc=$?
umount /usr/bin/systemctl
echo "OLD-OS-SWAP-UNDONE rc=$rc mounts=$(grep -c takeover-swap /proc/mounts) pid1=$(cat /proc/1/comm)"
systemctl daemon-reexec && echo "OLD-OS-PID1-REEXEC rc=$? pid1=$(cat /proc/1/comm)"`
	disk := scenarioDisk(t, s.os, s.guestFiles(script,
		vmtest.File{Path: "/var/lib/takeover/payload.cpio", Source: payload, Mode: 0o600}))
	before := snapshotDisk(t, disk)

	vm := bootOldOS(t, s.os, vmtest.Disk{Path: disk}, s.forwards())
	expect(t, vm, "OLD-OS-BOOTED", bootTimeout, markPanic)
	never := []string{markStart, markSwapPID1, markSwapFailed, markPanic}
	expect(t, vm, markSwapFallback, stage2Timeout, never...)
	line := expect(t, vm, "OLD-OS-SWAP-UNDONE", stage2Timeout, never...)
	if !strings.Contains(line, "mounts=0 pid1=systemd") || strings.Contains(line, "rc=0 ") {
		t.Fatalf("init swap not undone: %q, want a failure exit, mounts=0 and pid1=systemd", line)
	}
	pass(t, "the failed init swap is undone: %s", line[strings.Index(line, "OLD-OS-SWAP-UNDONE"):])
	expect(t, vm, "OLD-OS-PID1-REEXEC rc=0 pid1=systemd", stage2Timeout, never...)
	pass(t, "systemd is still PID 1 and re-executes itself")
	expect(t, vm, "OLD-OS-STILL-RUNNING", stage2Timeout, never...)
	if err := vm.Wait(newOSTimeout); err != nil {
		t.Fatalf("old OS did not power off: %v", err)
	}
	checkNoWrite(t, vm)
	checkOldOSIntact(t, s, disk, before)
}
