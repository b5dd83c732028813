package testimage

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// makeBoot makes the FAT16 boot partition and copies its files in.
func makeBoot(raw, work string, o Options, p Partition) error {
	err := run(nil, "mkfs.vfat", "-F", "16", "-S", "512", "-n", p.Label,
		fmt.Sprintf("--offset=%d", p.Start/512), raw, fmt.Sprint(p.Size/1024))
	if err != nil {
		return err
	}
	dir := filepath.Join(work, p.Label)
	if err := stageBoot(dir, o); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	img := fmt.Sprintf("%s@@%d", raw, p.Start)
	args := []string{"-s", "-i", img}
	for _, e := range entries {
		args = append(args, filepath.Join(dir, e.Name()))
	}
	return run(nil, "mcopy", append(args, "::/")...)
}

// stageBoot writes the files of a balenaOS boot partition into dir.
func stageBoot(dir string, o Options) error {
	config, err := json.Marshal(map[string]any{"deviceType": o.DeviceType,
		"persistentLogging": false})
	if err != nil {
		return err
	}
	dt, err := json.MarshalIndent(map[string]any{"slug": o.DeviceType, "name": o.DeviceType,
		"configuration": map[string]any{"config": map[string]any{
			"partition": map[string]int{"primary": 1}, "path": "/config.json"}}}, "", "  ")
	if err != nil {
		return err
	}
	files := map[string]string{
		"config.json":                      string(config) + "\n",
		"device-type.json":                 string(dt) + "\n",
		"system-connections/README.ignore": "NetworkManager keyfiles placed here are copied at boot.\n",
		"system-proxy/README.ignore":       "redsocks configuration placed here is used at boot.\n",
	}
	if o.Flasher {
		files["balena-image-flasher"] = ""
	} else {
		files["balena-image"] = ""
		files["os-release"] = osRelease(o)
	}
	if o.Marker != "" {
		files["synthetic-marker"] = o.Marker + "\n"
	}
	return writeFiles(dir, files, 0o644)
}

func osRelease(o Options) string {
	return fmt.Sprintf(`ID="balena-os"
NAME="balenaOS"
VERSION="%[1]s"
VERSION_ID="%[1]s"
PRETTY_NAME="balenaOS %[1]s"
MACHINE="%[2]s"
META_BALENA_VERSION="%[1]s"
BALENA_BOARD_REV="synthetic"
`, o.Version, o.DeviceType)
}

func writeFiles(dir string, files map[string]string, mode os.FileMode) error {
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			return err
		}
	}
	return nil
}

// stageRoot writes rootA: a marker, and with o.Busybox a bootable tree.
func stageRoot(dir string, o Options) error {
	files := map[string]string{"etc/os-release": osRelease(o),
		"etc/synthetic-marker": o.Marker + "\n"}
	if err := writeFiles(dir, files, 0o644); err != nil {
		return err
	}
	if o.Busybox == "" {
		return nil
	}
	for _, d := range []string{"proc", "sys", "dev", "tmp", "mnt/boot", "sbin"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := installBusybox(dir, o.Busybox); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "sbin/init"), []byte(initScript(o)), 0o755)
}

// installBusybox copies busybox to /bin and links every applet it lists.
func installBusybox(dir, busybox string) error {
	data, err := os.ReadFile(busybox)
	if err != nil {
		return fmt.Errorf("reading busybox: %w", err)
	}
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bin, "busybox"), data, 0o755); err != nil {
		return err
	}
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("listing busybox applets: %w", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		name := strings.TrimSpace(sc.Text())
		if name == "" || name == "busybox" || strings.Contains(name, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(bin, name)); err != nil {
			return err
		}
	}
	return sc.Err()
}

// initScript is rootA's /sbin/init: it proves on the console which image
// booted and what its boot partition holds, then powers off.
func initScript(o Options) string {
	return fmt.Sprintf(`#!/bin/busybox sh
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "SYNTHETIC-BALENAOS-BOOTED marker=%[1]s"
label=%[2]s-boot
boot=$(findfs "LABEL=$label" 2>/dev/null)
if [ -z "$boot" ]; then
	boot=$(blkid | grep "LABEL=\"$label\"" | cut -d: -f1 | head -n 1)
fi
if [ -z "$boot" ]; then
	for d in /dev/nvme0n1p1 /dev/vda1 /dev/sda1; do
		if [ -b "$d" ]; then boot=$d; break; fi
	done
fi
echo "SYNTHETIC-BALENAOS-BOOT-PARTITION $boot"
if [ -n "$boot" ] && mount -t vfat -o ro "$boot" /mnt/boot; then
	sum=$(sha256sum /mnt/boot/config.json | cut -d' ' -f1)
	echo "BALENAOS-CONFIG-JSON sha256=$sum"
	for f in /mnt/boot/system-connections/*; do
		echo "BALENAOS-SYSTEM-CONNECTION $(basename "$f")"
	done
	umount /mnt/boot
else
	echo "SYNTHETIC-BALENAOS-NO-BOOT-PARTITION"
fi
sync
poweroff -f
`, o.Marker, o.Prefix())
}

// writeFiller writes n bytes that compress to about a third, like the
// binaries and text of a real root file system: each 4 KiB block holds
// 1 KiB of random bytes and 3 KiB drawn from a small vocabulary.
func writeFiller(path string, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("balena supervisor container image engine device fleet " +
		"release service volume network kernel module firmware config partition")
	block := make([]byte, 4096)
	for written := int64(0); written < n; written += int64(len(block)) {
		for i := 0; i < 1024; i += 8 {
			v := rng.Uint64()
			for j := 0; j < 8; j++ {
				block[i+j] = byte(v >> (8 * j))
			}
		}
		for i := 1024; i < len(block); {
			i += copy(block[i:], words[rng.IntN(len(words))]+" ")
		}
		if _, err := w.Write(block[:min(int64(len(block)), n-written)]); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
