// Command vminit is PID 1 of kexec's QEMU test. In the first boot it finds
// the running kernel, loads it with /stage2.cpio, unloads it, loads it again
// and jumps; in the second boot (takeover.vmtest=stage2 on the command line)
// it prints the command line it got. Every result is a marker line on the
// serial console; the machine powers off at the end.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/takeover-dev/takeover/kexec"
)

const stage2Param = "takeover.vmtest=stage2"

func main() {
	mountAll()
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		fail("reading /proc/cmdline", err)
	}
	if strings.Contains(string(cmdline), stage2Param) {
		fmt.Printf("VMTEST-STAGE2 cmdline=%q\n", strings.TrimSpace(string(cmdline)))
		poweroff()
	}
	if err := firstBoot(string(cmdline)); err != nil {
		fail("first boot", err)
	}
	poweroff()
}

func firstBoot(cmdline string) error {
	log := logrus.New()
	log.SetOutput(os.Stdout)
	log.SetLevel(logrus.DebugLevel)

	release, err := kexec.Release("/proc")
	if err != nil {
		return err
	}
	kernel, err := kexec.FindKernel("/", release, "", log)
	if err != nil {
		return err
	}
	fmt.Printf("VMTEST-FOUND kernel=%s release=%s\n", kernel, release)
	total, avail, err := kexec.MemInfo("/proc")
	if err != nil {
		return err
	}
	st, err := os.Stat("/stage2.cpio")
	if err != nil {
		return err
	}
	ramfs, err := kexec.ChooseRootfs(st.Size(), total, avail)
	if err != nil {
		return err
	}
	next := kexec.Cmdline(cmdline, kexec.CmdlineOptions{Ramfs: ramfs}) + " " + stage2Param

	if err := kexec.Load(kernel, "/stage2.cpio", next, log); err != nil {
		return kexec.Explain(err)
	}
	loaded := readLoaded()
	if err := kexec.Unload(); err != nil {
		return err
	}
	fmt.Printf("VMTEST-UNLOAD loaded=%s unloaded=%s\n", loaded, readLoaded())

	if err := kexec.Load(kernel, "/stage2.cpio", next, log); err != nil {
		return kexec.Explain(err)
	}
	fmt.Println("VMTEST-JUMP")
	return kexec.Jump(log)
}

func readLoaded() string {
	b, err := os.ReadFile("/sys/kernel/kexec_loaded")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func mountAll() {
	for _, m := range []struct{ src, dir, fs string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"},
	} {
		os.MkdirAll(m.dir, 0o755)
		if err := unix.Mount(m.src, m.dir, m.fs, 0, ""); err != nil && err != unix.EBUSY {
			fail("mounting "+m.dir, err)
		}
	}
}

func fail(what string, err error) {
	fmt.Printf("VMTEST-FAIL %s: %v\n", what, err)
	poweroff()
}

func poweroff() {
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	select {}
}
