package kexec

import (
	"reflect"
	"strings"
	"testing"
)

func TestCmdline(t *testing.T) {
	tests := []struct {
		name    string
		current string
		opts    CmdlineOptions
		want    string
	}{
		{
			// Raspberry Pi OS Bookworm on a Pi 4: cmdline.txt after the
			// firmware prepended its own settings.
			name: "raspberry pi os 64-bit, pi 4",
			current: "coherent_pool=1M 8250.nr_uarts=0 snd_bcm2835.enable_headphones=0 " +
				"snd_bcm2835.enable_hdmi=1 snd_bcm2835.enable_hdmi=0 cgroup_disable=memory " +
				"numa_policy=interleave nvme.max_host_mem_size_mb=0 " +
				"smsc95xx.macaddr=DC:A6:32:01:02:03 vc_mem.mem_base=0x3eb00000 " +
				"vc_mem.mem_size=0x3ff00000  console=ttyS0,115200 console=tty1 " +
				"root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait quiet " +
				"splash plymouth.ignore-serial-consoles cfg80211.ieee80211_regdom=GB\n",
			want: "coherent_pool=1M 8250.nr_uarts=0 snd_bcm2835.enable_headphones=0 " +
				"snd_bcm2835.enable_hdmi=1 snd_bcm2835.enable_hdmi=0 cgroup_disable=memory " +
				"numa_policy=interleave nvme.max_host_mem_size_mb=0 " +
				"smsc95xx.macaddr=DC:A6:32:01:02:03 vc_mem.mem_base=0x3eb00000 " +
				"vc_mem.mem_size=0x3ff00000 console=ttyS0,115200 console=tty1 " +
				"cfg80211.ieee80211_regdom=GB loglevel=4 rdinit=/init panic=10",
		},
		{
			// Raspberry Pi OS Bullseye 32-bit on a Pi 3, first boot: init= runs
			// the resize script, which stage2 must not.
			name: "raspberry pi os 32-bit, pi 3, first boot, ramfs",
			current: "coherent_pool=1M 8250.nr_uarts=1 bcm2708_fb.fbwidth=656 " +
				"bcm2708_fb.fbheight=416 bcm2708_fb.fbswap=1 vc_mem.mem_base=0x3ec00000 " +
				"vc_mem.mem_size=0x40000000 cma=64M console=ttyS0,115200 console=tty1 " +
				"root=PARTUUID=b1214a26-02 rootfstype=ext4 fsck.repair=yes rootwait " +
				"init=/usr/lib/raspberrypi-sys-mods/firstboot",
			opts: CmdlineOptions{Ramfs: true},
			want: "coherent_pool=1M 8250.nr_uarts=1 bcm2708_fb.fbwidth=656 " +
				"bcm2708_fb.fbheight=416 bcm2708_fb.fbswap=1 vc_mem.mem_base=0x3ec00000 " +
				"vc_mem.mem_size=0x40000000 cma=64M console=ttyS0,115200 console=tty1 " +
				"loglevel=4 root=/dev/ram0 rdinit=/init panic=10",
		},
		{
			name: "debian 12 with grub",
			current: "BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 " +
				"root=UUID=0a1b2c3d-1111-2222-3333-444455556666 ro quiet",
			want: "loglevel=4 rdinit=/init panic=10",
		},
		{
			name: "debian cloud image with serial consoles",
			current: "BOOT_IMAGE=/boot/vmlinuz-6.1.0-57-cloud-amd64 " +
				"root=PARTUUID=5a4c7e0c-0f7d-4f4e-9a0e-6c1c7a3b2d10 ro console=tty0 " +
				"console=ttyS0,115200 earlyprintk=ttyS0,115200 consoleblank=0",
			want: "console=tty0 console=ttyS0,115200 earlyprintk=ttyS0,115200 consoleblank=0 " +
				"loglevel=4 rdinit=/init panic=10",
		},
		{
			name: "ubuntu 22.04 server with lvm, resume and systemd options",
			current: "BOOT_IMAGE=/vmlinuz-5.15.0-91-generic root=/dev/mapper/ubuntu--vg-ubuntu--lv " +
				"ro quiet splash resume=UUID=1234 systemd.unified_cgroup_hierarchy=1 " +
				"rd.lvm.lv=ubuntu-vg/ubuntu-lv loglevel=3 vt.handoff=7",
			want: "loglevel=3 vt.handoff=7 rdinit=/init panic=10",
		},
		{
			name: "efi stub initrd, crash kernel, hardware quirks kept",
			current: "initrd=\\initrd.img root=/dev/sda2 rw crashkernel=256M panic_on_warn=1 nomodeset " +
				"pci=nomsi earlycon=uart8250,mmio32,0xfe215040 panic=0",
			want: "nomodeset pci=nomsi earlycon=uart8250,mmio32,0xfe215040 loglevel=4 rdinit=/init panic=10",
		},
		{
			name:    "unbalanced quote at the end",
			current: `console=ttyS0 foo="bar`,
			want:    `console=ttyS0 loglevel=4 rdinit=/init panic=10`,
		},
		{
			name:    "runlevel and init arguments after --",
			current: `console=ttyAMA0 single dyndbg="file drivers/usb/* +p" -- --foo bar`,
			want:    `console=ttyAMA0 dyndbg="file drivers/usb/* +p" loglevel=4 rdinit=/init panic=10`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Cmdline(tc.current, tc.opts); got != tc.want {
				t.Fatalf("Cmdline(%q, %+v) =\n  %q\nwant\n  %q", tc.current, tc.opts, got, tc.want)
			}
		})
	}
}

func TestCmdlineLastConsoleStaysLast(t *testing.T) {
	got := Cmdline("console=tty1 root=/dev/sda1 console=ttyS0,115200", CmdlineOptions{})
	params := strings.Fields(got)
	var last string
	for _, p := range params {
		if strings.HasPrefix(p, "console=") {
			last = p
		}
	}
	if last != "console=ttyS0,115200" {
		t.Fatalf("Cmdline(...) = %q, want console=ttyS0,115200 as the last console", got)
	}
}

func TestSplitCmdline(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{in: "", want: nil},
		{in: "  a  b\tc\n", want: []string{"a", "b", "c"}},
		{in: `a="x y" b`, want: []string{`a="x y"`, "b"}},
		{in: `"a b"=c d`, want: []string{`"a b"=c`, "d"}},
		{in: `a="unterminated b`, want: []string{`a="unterminated b`}},
	}
	for _, tc := range tests {
		if got := splitCmdline(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitCmdline(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzCmdline(f *testing.F) {
	f.Add("BOOT_IMAGE=/vmlinuz root=UUID=x ro quiet console=ttyS0")
	f.Add(`a="b c" -- d`)
	f.Fuzz(func(t *testing.T, s string) {
		params := splitCmdline(s)
		if again := splitCmdline(strings.Join(params, " ")); !reflect.DeepEqual(again, params) {
			t.Fatalf("splitCmdline(join(%q)) = %q, want the same", params, again)
		}
		got := splitCmdline(Cmdline(s, CmdlineOptions{Ramfs: true}))
		n := len(got)
		if n < 3 || got[n-3] != ramfsParam || got[n-2] != rdinitParam || got[n-1] != panicParam {
			t.Fatalf("Cmdline(%q) = %q, want it to end with our parameters", s, got)
		}
		for _, p := range got[:n-3] {
			if isDropped(p) {
				t.Fatalf("Cmdline(%q) kept %q", s, p)
			}
		}
	})
}
