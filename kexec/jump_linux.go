package kexec

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// shutdownWait is how long Jump waits for systemd to finish shutting down
// after `systemctl kexec` was accepted. systemd's default stop timeout is
// 90 s per unit, and several can time out in turn.
const shutdownWait = 5 * time.Minute

// Jump boots the loaded kexec image. On a systemd machine it runs
// `systemctl kexec`, so services stop and file systems are unmounted first;
// elsewhere it syncs and calls reboot(LINUX_REBOOT_CMD_KEXEC). It returns
// only on failure.
func Jump(log logrus.FieldLogger) error {
	systemd := initIsSystemd("/proc")
	log.WithField("systemd", systemd).Info("jumping into stage2 with kexec, this session ends now")
	toConsole("takeover: jumping into stage2 with kexec\n")

	if systemd {
		return systemctlKexec(log)
	}
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_KEXEC); err != nil {
		return fmt.Errorf("rebooting into the kexec image: %w", err)
	}
	return fmt.Errorf("rebooting into the kexec image: reboot returned without error")
}

// systemctlKexec asks systemd for the kexec target and waits for the end.
// systemd's shutdown boots the image loaded by Load: it finds
// /sys/kernel/kexec_loaded set, so it loads nothing of its own.
// systemctlKexec queues systemd's kexec job and waits for the shutdown to
// end this process. --no-block makes the exit status say only whether the
// job was queued: systemctl itself is killed with this service once the
// shutdown runs, which must not read as a failure.
func systemctlKexec(log logrus.FieldLogger) error {
	out, err := exec.Command("systemctl", "--no-block", "kexec").CombinedOutput()
	if err != nil {
		return fmt.Errorf("running systemctl kexec: %w: %s", err, strings.TrimSpace(string(out)))
	}
	// From here the shutdown stops this service: let SIGTERM end the
	// process at once rather than hold the shutdown up to its stop timeout.
	signal.Reset(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	log.WithField("wait", shutdownWait).Info("systemd is shutting down for kexec")
	time.Sleep(shutdownWait)
	return fmt.Errorf("%w, but the system is still up after %s", ErrShutdownStarted, shutdownWait)
}

// initIsSystemd reports whether PID 1 is systemd.
func initIsSystemd(procRoot string) bool {
	return readTrimmed(filepath.Join(procRoot, "1/comm")) == "systemd"
}

// toConsole writes a line to the system console, where a serial console
// shows it; failures are ignored, the log has the same line.
func toConsole(line string) {
	f, err := os.OpenFile("/dev/console", os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		return
	}
	defer f.Close()
	f.WriteString(line)
}
