// Package vmtest runs QEMU guests for the end-to-end tests and watches their
// serial console for markers.
//
// Guests always run under TCG (software emulation): KVM is never used,
// because nested KVM on the machines these tests target is broken. QEMU's
// exit code says nothing about the guest (poweroff, reboot under -no-reboot
// and a kernel panic all exit 0), so results are judged from serial-console
// markers only.
package vmtest

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// QEMUBinary is the emulator the package runs.
const QEMUBinary = "qemu-system-x86_64"

// Disk is one disk attached to the guest.
type Disk struct {
	Path      string // raw disk image file; QEMU locks it, so one per running VM
	Interface string // "virtio" (/dev/vda) or "nvme" (/dev/nvme0n1)
	Serial    string // serial number the guest sees; optional
	// Blkdebug, when set, is a blkdebug rule file: the disk is opened through
	// QEMU's blkdebug driver, which injects the I/O errors the file describes.
	Blkdebug string
}

// Forward sends the guest's TCP connections to GuestAddr (host:port inside
// the guest's user network, e.g. 10.0.2.100:80) to HostAddr on this machine
// (e.g. 127.0.0.1:41234).
type Forward struct {
	GuestAddr string
	HostAddr  string
}

// Config is what a guest boots and what it is attached to.
type Config struct {
	Kernel   string
	Initrd   string // optional
	Append   string // kernel command line
	MemoryMB int    // default 768
	Disks    []Disk
	// Network, when true, gives the guest one virtio NIC on a restricted user
	// network (no route out of QEMU) whose only reachable peers are Forwards.
	Network  bool
	Forwards []Forward
	// SerialLog is the file the serial console is copied to.
	SerialLog string
}

// Args returns QEMU's arguments for c, without the binary name.
func (c Config) Args() []string {
	mem := c.MemoryMB
	if mem == 0 {
		mem = 768
	}
	args := []string{
		"-accel", "tcg,thread=multi",
		"-m", strconv.Itoa(mem),
		"-nodefaults", "-display", "none", "-no-reboot",
		"-serial", "stdio",
		"-kernel", c.Kernel,
	}
	if c.Initrd != "" {
		args = append(args, "-initrd", c.Initrd)
	}
	if c.Append != "" {
		args = append(args, "-append", c.Append)
	}
	for i, d := range c.Disks {
		args = append(args, d.args(i)...)
	}
	if c.Network {
		args = append(args,
			"-netdev", c.netdev(),
			"-device", "virtio-net-pci,netdev=n0")
	}
	return args
}

func (d Disk) args(i int) []string {
	id := fmt.Sprintf("d%d", i)
	drive := "if=none,id=" + id + ",format=raw,file=" + escapeComma(d.Path)
	if d.Blkdebug != "" {
		drive = "if=none,id=" + id + ",driver=blkdebug,config=" + escapeComma(d.Blkdebug) +
			",image.driver=raw,image.file.driver=file,image.file.filename=" + escapeComma(d.Path)
	}
	device := "virtio-blk-pci,drive=" + id
	if d.Interface == "nvme" {
		serial := d.Serial
		if serial == "" {
			serial = "takeover" + strconv.Itoa(i)
		}
		device = "nvme,drive=" + id + ",serial=" + escapeComma(serial)
	} else if d.Serial != "" {
		device += ",serial=" + escapeComma(d.Serial)
	}
	return []string{"-drive", drive, "-device", device}
}

// netdev builds the user network: restrict=on keeps the guest off every
// network but the forwards. Each forward spawns busybox nc per connection
// (cmd:), because a chardev forward serves a single connection only.
func (c Config) netdev() string {
	s := "user,id=n0,restrict=on"
	for _, f := range c.Forwards {
		host, port, _ := strings.Cut(f.HostAddr, ":")
		s += ",guestfwd=tcp:" + f.GuestAddr + "-cmd:busybox nc " + host + " " + port
	}
	return s
}

func escapeComma(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// Available reports why QEMU cannot run here, or "" when it can.
func Available() string {
	if _, err := exec.LookPath(QEMUBinary); err != nil {
		return QEMUBinary + " is not installed (apt-get install qemu-system-x86)"
	}
	if _, err := exec.LookPath("busybox"); err != nil {
		return "busybox is not installed (apt-get install busybox-static); guest forwards need it"
	}
	return ""
}
