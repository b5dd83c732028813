package kexec

import "strings"

// CmdlineOptions shape the command line of the kernel stage2 runs under.
type CmdlineOptions struct {
	// Ramfs makes the kernel unpack the initramfs into ramfs (no size cap)
	// instead of tmpfs (capped at half of RAM): see ChooseRootfs.
	Ramfs bool
}

// Our own parameters, appended after the kept ones.
const (
	rdinitParam = "rdinit=/init" // stage2 is /init in the initramfs
	panicParam  = "panic=10"     // a dead stage2 reboots, into the old OS if nothing was written
	// loglevelParam keeps the kernel's info messages, and stage2's own lines
	// copied into /dev/kmsg, off the console, where stage2 already prints
	// them; warnings and errors still show. An existing loglevel= is kept.
	loglevelParam = "loglevel=4"
	// ramfsParam makes rootfs a ramfs. The kernel's init_rootfs (init/do_mounts.c)
	// picks tmpfs only when CONFIG_TMPFS is set, root= is absent, and rootfstype= is
	// absent or names tmpfs; any root= makes it ramfs. Since rdinit=/init exists in
	// our initramfs the kernel runs it and never tries to mount /dev/ram0.
	ramfsParam = "root=/dev/ram0"
)

// dropped are parameters for the old OS's root file system and userspace,
// matched by exact key ("root") or, ending in ".", by prefix ("systemd.").
var dropped = []string{
	"root", "rootfstype", "rootflags", "rootwait", "rootdelay", "roottimeout",
	"ro", "rw", "init", "rdinit", "initrd", "BOOT_IMAGE", "panic",
	"quiet", "splash", "nosplash", "plymouth.", "systemd.", "rd.", "udev.",
	"resume", "resume_offset", "noresume", "fsck.", "nfsroot", "nfsrootdebug",
	// ip= sets up the network for an NFS root and can wait minutes for DHCP.
	"ip",
	// panic_on_warn turns any kernel warning during the flash into a reboot
	// halfway through writing the disk.
	"panic_on_warn",
	// crashkernel= and hugepages= hold back memory that the initramfs needs.
	"crashkernel", "hugepages", "hugepagesz", "default_hugepagesz",
	// Arguments the kernel hands to init: runlevels and rescue modes of the old
	// init, which stage2 as /init must not receive.
	"single", "emergency", "rescue", "s", "S", "1", "2", "3", "4", "5",
	// Cloud and installer hooks of the old OS.
	"ds", "cloud-init", "boot", "BOOTIF",
}

// Cmdline builds the command line for the kernel stage2 runs under from the
// running one (current, as in /proc/cmdline). It keeps what the hardware and
// the console need (console=, earlycon, loglevel, the Raspberry Pi firmware's
// additions such as 8250.nr_uarts=, coherent_pool=, cma=, vc_mem.*,
// smsc95xx.macaddr=, and any other driver option), drops what belongs to the
// old OS's root file system and init, and adds rdinit=/init and panic=10.
func Cmdline(current string, o CmdlineOptions) string {
	var kept []string
	for _, p := range splitCmdline(current) {
		if p == "--" {
			break // what follows is for the old init
		}
		// An unbalanced quote (only the last parameter can have one) would
		// swallow the parameters we append.
		if !isDropped(p) && strings.Count(p, `"`)%2 == 0 {
			kept = append(kept, p)
		}
	}
	if !hasParam(kept, "loglevel") {
		kept = append(kept, loglevelParam)
	}
	if o.Ramfs {
		kept = append(kept, ramfsParam)
	}
	kept = append(kept, rdinitParam, panicParam)
	return strings.Join(kept, " ")
}

func hasParam(params []string, key string) bool {
	for _, p := range params {
		if k, _, _ := strings.Cut(p, "="); k == key {
			return true
		}
	}
	return false
}

func isDropped(param string) bool {
	key, _, _ := strings.Cut(param, "=")
	key = strings.Trim(key, `"`)
	for _, d := range dropped {
		if key == d || (strings.HasSuffix(d, ".") && strings.HasPrefix(key, d)) {
			return true
		}
	}
	return false
}

// splitCmdline splits a command line at white space outside double quotes,
// as the kernel's next_arg does; quotes stay in the parameter.
func splitCmdline(s string) []string {
	var params []string
	start, quoted := -1, false
	for i, c := range s {
		switch {
		case c == '"':
			quoted = !quoted
			if start < 0 {
				start = i
			}
		case isSpace(c) && !quoted:
			if start >= 0 {
				params = append(params, s[start:i])
				start = -1
			}
		case start < 0:
			start = i
		}
	}
	if start >= 0 {
		params = append(params, s[start:])
	}
	return params
}

func isSpace(c rune) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
