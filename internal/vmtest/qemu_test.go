package vmtest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfigArgs(t *testing.T) {
	tests := []struct {
		name    string
		config  Config
		want    []string // consecutive arguments that must appear
		wantNot []string
	}{
		{
			name:    "tcg only, never kvm",
			config:  Config{Kernel: "/k"},
			want:    []string{"-accel", "tcg,thread=multi", "-m", "768"},
			wantNot: []string{"-enable-kvm", "kvm", "-initrd", "-netdev"},
		},
		{
			name: "virtio disk with comma in path",
			config: Config{Kernel: "/k", Initrd: "/i", Append: "console=ttyS0",
				Disks: []Disk{{Path: "/d,1.img"}}},
			want: []string{"-initrd", "/i", "-append", "console=ttyS0",
				"-drive", "if=none,id=d0,format=raw,file=/d,,1.img",
				"-device", "virtio-blk-pci,drive=d0"},
		},
		{
			name:   "nvme disk gets a serial",
			config: Config{Kernel: "/k", MemoryMB: 512, Disks: []Disk{{Path: "/d", Interface: "nvme"}}},
			want:   []string{"-device", "nvme,drive=d0,serial=takeover0"},
		},
		{
			name:   "blkdebug wraps the raw file",
			config: Config{Kernel: "/k", Disks: []Disk{{Path: "/d", Blkdebug: "/rules"}}},
			want: []string{"-drive", "if=none,id=d0,driver=blkdebug,config=/rules," +
				"image.driver=raw,image.file.driver=file,image.file.filename=/d"},
		},
		{
			name: "restricted network with per-connection forwards",
			config: Config{Kernel: "/k", Network: true, Forwards: []Forward{
				{GuestAddr: "10.0.2.100:80", HostAddr: "127.0.0.1:4000"},
				{GuestAddr: "10.0.2.101:443", HostAddr: "127.0.0.1:4001"},
			}},
			want: []string{"-netdev", "user,id=n0,restrict=on," +
				"guestfwd=tcp:10.0.2.100:80-cmd:busybox nc 127.0.0.1 4000," +
				"guestfwd=tcp:10.0.2.101:443-cmd:busybox nc 127.0.0.1 4001",
				"-device", "virtio-net-pci,netdev=n0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.config.Args()
			if !containsRun(args, tt.want) {
				t.Errorf("Args() = %q, want the run %q", args, tt.want)
			}
			for _, bad := range tt.wantNot {
				if slices.Contains(args, bad) {
					t.Errorf("Args() = %q, want no %q", args, bad)
				}
			}
		})
	}
}

func containsRun(args, run []string) bool {
	for i := 0; i+len(run) <= len(args); i++ {
		if slices.Equal(args[i:i+len(run)], run) {
			return true
		}
	}
	return false
}

func TestConsoleWaitFor(t *testing.T) {
	vm := &VM{console: newConsole(), done: make(chan struct{}), started: time.Now()}
	go func() {
		vm.console.Write([]byte("[ 1.0] booting\r\n[ 2.0] OLD-OS-"))
		time.Sleep(20 * time.Millisecond)
		vm.console.Write([]byte("BOOTED\r\nTAKEOVER-STAGE2-FAILED phase=flash error=eio\n"))
	}()
	line, err := vm.WaitFor(context.Background(), "OLD-OS-BOOTED", 5*time.Second)
	if err != nil || line != "[ 2.0] OLD-OS-BOOTED" {
		t.Fatalf("WaitFor(OLD-OS-BOOTED) = %q, %v; want the line, nil", line, err)
	}
	m, line, err := vm.WaitForAny(context.Background(), 5*time.Second,
		"TAKEOVER-STAGE2-DONE", "TAKEOVER-STAGE2-FAILED")
	if err != nil || m != "TAKEOVER-STAGE2-FAILED" || !strings.Contains(line, "phase=flash") {
		t.Fatalf("WaitForAny(done, failed) = %q, %q, %v; want the failure line", m, line, err)
	}
	if got := vm.Tail(1); !slices.Equal(got, []string{line}) {
		t.Errorf("Tail(1) = %q, want [%q]", got, line)
	}
}

func TestConsoleWaitForEnds(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		vm := &VM{console: newConsole()}
		_, err := vm.WaitFor(context.Background(), "NEVER", 30*time.Millisecond)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("WaitFor(NEVER) = %v, want a deadline error", err)
		}
	})
	t.Run("qemu exited", func(t *testing.T) {
		vm := &VM{console: newConsole()}
		vm.console.Write([]byte("Kernel panic - not syncing"))
		vm.console.close()
		_, err := vm.WaitFor(context.Background(), "NEVER", 5*time.Second)
		if !errors.Is(err, ErrExited) {
			t.Errorf("WaitFor(NEVER) after exit = %v, want ErrExited", err)
		}
		if got := vm.Output(); !slices.Equal(got, []string{"Kernel panic - not syncing"}) {
			t.Errorf("Output() = %q, want the unterminated last line kept", got)
		}
	})
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{in: "-m", want: "-m"},
		{in: "user,id=n0", want: "user,id=n0"},
		{in: "cmd:busybox nc 1 2", want: "'cmd:busybox nc 1 2'"},
		{in: "it's", want: `'it'\''s'`},
		{in: "", want: "''"},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
