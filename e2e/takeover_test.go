//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/takeover-dev/takeover/internal/vmtest"
)

// Failure markers that end a wait for a success marker at once.
var failures = []string{markFailed, markExit, markPanic}

// TestKexecHappyPath is scenario 1: the whole migration from a running
// Debian with systemd, kexec into stage2, flash, verify, then the new OS.
func TestKexecHappyPath(t *testing.T) {
	timed(t)
	step(t, "synthetic balenaOS image, fake balena API, takeover build")
	s := newScenario(t, scenarioOptions{})
	step(t, "old OS disk with takeover, config.json, Wi-Fi, keyfile, hostname, data to back up")
	disk := scenarioDisk(t, s.os, s.guestFiles(takeoverCommand))

	step(t, "booting the old OS; its unit runs: %s", takeoverCommand)
	vm := bootOldOS(t, s.os, vmtest.Disk{Path: disk}, s.forwards())
	expect(t, vm, "OLD-OS-BOOTED", bootTimeout, markPanic)
	expectStage2Success(t, vm)

	step(t, "checking the disk from the host")
	s.api.checkDownloaded(t, s.apiKey)
	checkFlashedDisk(t, s, vm, disk)
}

// TestKexecHappyPathGPT is scenario 1 with a GPT image: the byte check then
// also leaves out the GPT headers that relocating the backup table rewrites.
func TestKexecHappyPathGPT(t *testing.T) {
	timed(t)
	s := newScenario(t, scenarioOptions{table: "gpt"})
	disk := scenarioDisk(t, s.os, s.guestFiles(takeoverCommand))
	vm := bootOldOS(t, s.os, vmtest.Disk{Path: disk}, s.forwards())
	expect(t, vm, "OLD-OS-BOOTED", bootTimeout, markPanic)
	expectStage2Success(t, vm)
	checkGPTValid(t, disk)
	checkFlashedDisk(t, s, vm, disk)
}

// checkGPTValid checks the flashed GPT is whole on the larger disk: the
// backup header moved to the disk's end (sgdisk -v finds no problem).
func checkGPTValid(t *testing.T, disk string) {
	t.Helper()
	out, err := exec.Command("sgdisk", "-v", disk).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No problems found") {
		t.Fatalf("sgdisk -v of the flashed disk: %v\n%s", err, out)
	}
	pass(t, "GPT valid on the whole disk, backup header at its end (sgdisk -v)")
}

// expectStage2Success follows stage2 through its markers to QEMU's exit.
func expectStage2Success(t *testing.T, vm *vmtest.VM) {
	t.Helper()
	expect(t, vm, markStart+" pid=1", stage2Timeout, failures...)
	expect(t, vm, markFlashed, stage2Timeout, failures...)
	expect(t, vm, markVerify, stage2Timeout, failures...)
	expect(t, vm, markDone, stage2Timeout, failures...)
	if err := vm.Wait(newOSTimeout); err != nil {
		t.Fatalf("stage2 did not reboot: %v", err)
	}
	pass(t, "stage2 rebooted (QEMU exited) after %s", vm.Elapsed().Round(1e9))
}

// checkFlashedDisk runs every host check of a migrated disk, then boots it.
func checkFlashedDisk(t *testing.T, s *scenario, vm *vmtest.VM, disk string) {
	t.Helper()
	verified, _ := vm.Find(markVerify)
	checkVerifiedDigest(t, s.image, verified)
	checkImageBytes(t, s.image, disk)
	config := checkBootPartition(t, s, disk)
	checkDataPartition(t, s, disk)
	step(t, "booting the migrated disk")
	newOS := bootNewOS(t, s.os, disk, s.marker)
	checkConfigDigest(t, newOS, config)
}

// TestOfflineBuildInitrd is scenario 2: the payload archive is built on
// this machine (offline, as on a workstation), copied into the guest, and
// `takeover boot` adds the device archive and kexecs.
func TestOfflineBuildInitrd(t *testing.T) {
	timed(t)
	s := newScenario(t, scenarioOptions{})
	payload := buildInitrdOnHost(t, s)
	script := "mkdir -p /var/lib/takeover && /usr/local/bin/takeover boot --no-ack " +
		"--initrd /var/lib/takeover/payload.cpio -w /var/lib/takeover --log-level debug"
	disk := scenarioDisk(t, s.os, s.guestFiles(script,
		vmtest.File{Path: "/var/lib/takeover/payload.cpio", Source: payload, Mode: 0o600}))

	vm := bootOldOS(t, s.os, vmtest.Disk{Path: disk}, s.forwards())
	expect(t, vm, "OLD-OS-BOOTED", bootTimeout, markPanic)
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

// buildInitrdOnHost runs `takeover build-initrd` here, with the config and
// a keyfile, against the image file (no network).
func buildInitrdOnHost(t *testing.T, s *scenario) string {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "config.json")
	must(t, os.WriteFile(config, s.config, 0o600))
	out := filepath.Join(dir, "payload.cpio")
	keyfile := filepath.Join(repoRoot(t), "testdata", "e2e", "lab-ethernet.nmconnection")
	cmd := exec.Command(s.takeover, "build-initrd", "-c", config, "-i", s.image.Path, "-o", out,
		"--nwmgr-cfg", keyfile, "--no-keep-name", "-w", dir)
	msg, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("takeover build-initrd: %v\n%s", err, lastLines(string(msg), 30))
	}
	st, err := os.Stat(out)
	must(t, err)
	pass(t, "build-initrd on the host wrote %s (%d bytes)", filepath.Base(out), st.Size())
	return out
}

// TestPretend is scenario 3: `takeover boot --pretend` loads and unloads the
// kexec image and the old OS keeps running; then a full --pretend run
// reaches stage2, which stops before its first write, leaves its log on the
// old root and reboots.
func TestPretend(t *testing.T) {
	timed(t)
	s := newScenario(t, scenarioOptions{})
	payload := buildInitrdOnHost(t, s)
	script := `mkdir -p /var/lib/takeover
/usr/local/bin/takeover boot --pretend --no-ack --initrd /var/lib/takeover/payload.cpio \
  -w /var/lib/takeover
echo "OLD-OS-BOOT-PRETEND-EXIT rc=$?"
` + takeoverCommand + " --pretend"
	disk := scenarioDisk(t, s.os, s.guestFiles(script,
		vmtest.File{Path: "/var/lib/takeover/payload.cpio", Source: payload, Mode: 0o600}))
	before := snapshotDisk(t, disk)

	vm := bootOldOS(t, s.os, vmtest.Disk{Path: disk}, s.forwards())
	expect(t, vm, "OLD-OS-BOOTED", bootTimeout, markPanic)
	expect(t, vm, "OLD-OS-BOOT-PRETEND-EXIT rc=0", stage2Timeout, append(failures, markStart)...)
	pass(t, "takeover boot --pretend returned 0 and the old OS kept running")
	expect(t, vm, markStart+" pid=1", stage2Timeout, failures...)
	expect(t, vm, markPretend, stage2Timeout, markFlashed, markFailed, markPanic)
	if err := vm.Wait(newOSTimeout); err != nil {
		t.Fatalf("stage2 did not reboot after pretending: %v", err)
	}
	checkNoWrite(t, vm)
	checkOldOSIntact(t, s, disk, before)
	checkOldRootLog(t, disk, markStart+" pid=1", "step=\"opening disk\"", markPretend)
}

// checkNoWrite checks stage2 never reported a write.
func checkNoWrite(t *testing.T, vm *vmtest.VM) {
	t.Helper()
	for _, l := range vm.Output() {
		if strings.Contains(l, markFlashed) || strings.Contains(l, markVerify) {
			t.Fatalf("stage2 wrote the disk: %q", l)
		}
	}
	pass(t, "stage2 printed no FLASHED or VERIFIED marker")
}

// TestCorruptImageRefused is scenario 4: the fake API serves a broken gzip;
// stage1 refuses before kexec, the old OS keeps running, the disk is as it
// was.
func TestCorruptImageRefused(t *testing.T) {
	timed(t)
	// The scenario's image is built first so the corrupt copy derives from it.
	s := newScenario(t, scenarioOptions{})
	corrupt := filepath.Join(t.TempDir(), "corrupt.img.gz")
	data, err := os.ReadFile(s.image.Path)
	must(t, err)
	data[len(data)/2] ^= 0x55
	must(t, os.WriteFile(corrupt, data, 0o644))
	s.api = startFakeAPI(t, filepath.Dir(s.image.Path), "wrong="+corrupt)

	disk := scenarioDisk(t, s.os, s.guestFiles(takeoverCommand))
	before := snapshotDisk(t, disk)
	vm := bootOldOS(t, s.os, vmtest.Disk{Path: disk}, s.forwards())
	expect(t, vm, "OLD-OS-BOOTED", bootTimeout, markPanic)
	line := expect(t, vm, markExit, stage2Timeout, markStart, markPanic)
	if strings.Contains(line, "rc=0") {
		t.Fatalf("takeover accepted a corrupt image: %q", line)
	}
	pass(t, "stage1 refused the corrupt image: %s", line[strings.Index(line, markExit):])
	expect(t, vm, "OLD-OS-STILL-RUNNING", 30e9)
	if err := vm.Wait(newOSTimeout); err != nil {
		t.Fatalf("old OS did not power off: %v", err)
	}
	checkOldOSIntact(t, s, disk, before)
}

// TestPayloadDigestMismatch is scenario 5: a payload built on the host has
// one byte of its image flipped inside the cpio; stage2 checks the digest
// before writing, refuses, leaves its log on the old root and reboots; the
// disk is as it was outside the old root file system.
func TestPayloadDigestMismatch(t *testing.T) {
	timed(t)
	s := newScenario(t, scenarioOptions{})
	payload := buildInitrdOnHost(t, s)
	name, off := flipInCPIO(t, payload, "takeover/image/")
	pass(t, "flipped the byte at %d of %s inside the payload", off, name)
	script := "mkdir -p /var/lib/takeover && /usr/local/bin/takeover boot --no-ack " +
		"--initrd /var/lib/takeover/payload.cpio -w /var/lib/takeover"
	disk := scenarioDisk(t, s.os, s.guestFiles(script,
		vmtest.File{Path: "/var/lib/takeover/payload.cpio", Source: payload, Mode: 0o600}))
	before := snapshotDisk(t, disk)

	vm := bootOldOS(t, s.os, vmtest.Disk{Path: disk}, s.forwards())
	expect(t, vm, "OLD-OS-BOOTED", bootTimeout, markPanic)
	expect(t, vm, markStart+" pid=1", stage2Timeout, markExit, markPanic)
	line := expect(t, vm, markFailed, stage2Timeout, markFlashed, markDone, markPanic)
	pass(t, "stage2 refused: %s", line[strings.Index(line, markFailed):])
	if err := vm.Wait(newOSTimeout); err != nil {
		t.Fatalf("stage2 did not reboot after refusing: %v", err)
	}
	checkNoWrite(t, vm)
	checkOldOSIntact(t, s, disk, before)
	checkOldRootLog(t, disk, markStart+" pid=1", markFailed+" phase=checking-payload")
}

// TestWriteErrorWipesTable is scenario 6: the target disk (a second disk,
// so the old OS's own writes never meet the fault) fails every write to one
// sector past the first MiB, through QEMU's blkdebug driver. Stage2 retries,
// then wipes the partition table so a half image cannot boot, and saves its
// log to the old root partition (--log-to).
func TestWriteErrorWipesTable(t *testing.T) {
	timed(t)
	s := newScenario(t, scenarioOptions{})
	target := targetDiskWithTable(t, 256)
	rules := filepath.Join(t.TempDir(), "blkdebug.conf")
	// Sector 40960 is at 20 MiB: inside the image, past its first MiB.
	must(t, os.WriteFile(rules, []byte(`[inject-error]
event = "pwritev"
errno = "5"
sector = "40960"
once = "off"
`), 0o644))
	script := takeoverCommand + " --flash-to /dev/vdb --log-to /dev/vda1"
	disk := scenarioDisk(t, s.os, s.guestFiles(script))

	vm := startVM(t, "oldos", vmtest.Config{
		Kernel: s.os.Kernel, Initrd: s.os.Initrd,
		Append:  "root=/dev/vda1 rw console=ttyS0 panic=-1 net.ifnames=0",
		Disks:   []vmtest.Disk{{Path: disk}, {Path: target, Blkdebug: rules}},
		Network: true, Forwards: s.forwards(),
	})
	expect(t, vm, "OLD-OS-BOOTED", bootTimeout, markPanic)
	expect(t, vm, markStart+" pid=1", stage2Timeout, markExit, markPanic)
	line := expect(t, vm, markFailed, stage2Timeout, markDone, markPanic)
	pass(t, "stage2 failed as injected: %s", line[strings.Index(line, markFailed):])
	if err := vm.Wait(newOSTimeout); err != nil {
		t.Fatalf("stage2 did not reboot after the write error: %v", err)
	}
	checkTableWiped(t, target)
	list, err := vmtest.ListExt4(disk, rootPartitionOffset, "/")
	must(t, err)
	t.Logf("old root after the failure:\n%s", list)
	checkStage2Log(t, disk, rootPartitionOffset)
}

// targetDiskWithTable makes a sizeMiB disk holding an MBR with one
// partition, so a wipe is visible (a never-written disk would look wiped).
func targetDiskWithTable(t *testing.T, sizeMiB int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "target.img")
	must(t, os.WriteFile(p, nil, 0o644))
	must(t, os.Truncate(p, sizeMiB<<20))
	cmd := exec.Command("sfdisk", "-q", p)
	cmd.Stdin = strings.NewReader("label: dos\nstart=2048, type=83\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v: %s", err, out)
	}
	return p
}

func checkTableWiped(t *testing.T, disk string) {
	t.Helper()
	f, err := os.Open(disk)
	must(t, err)
	defer f.Close()
	table, err := vmtest.ReadTable(f)
	if err == nil && len(table.Partitions) > 0 {
		t.Fatalf("target disk still has a %s table after the failure: %+v", table.Kind, table.Partitions)
	}
	pass(t, "target disk's partition table is wiped (%v)", err)
}
