package boot

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"
	"github.com/takeover-dev/takeover/initramfs"
	"github.com/takeover-dev/takeover/kmod"
	"github.com/takeover-dev/takeover/plan"
)

// spareBytes is the room the work directory needs beyond the payload: the
// device archive (a few MiB of modules) and an unwrapped arm64 kernel (up to
// about 60 MiB).
const spareBytes = 128 << 20

// newcMagic opens every uncompressed newc archive.
var newcMagic = []byte("070701")

// File system magics of statfs(2) for file systems held in RAM.
const (
	tmpfsMagic = 0x01021994
	ramfsMagic = 0x858458f6
)

// writeInitrd writes the combined initramfs into the work directory, mode
// 0600 (the payload holds secrets): the payload archive's bytes, padding to
// 512 bytes, then the device archive. The kernel unpacks them in order.
func writeInitrd(o Options, mods []kmod.Module, dev *plan.Device) (string, error) {
	payload, err := os.Open(o.Initrd)
	if err != nil {
		return "", fmt.Errorf("opening payload archive: %w", err)
	}
	defer payload.Close()
	size, err := checkPayload(payload, o.Initrd)
	if err != nil {
		return "", err
	}
	if err := checkWorkDir(o.WorkDir, size+spareBytes); err != nil {
		return "", err
	}
	entries, err := initramfs.DeviceEntries(modulesDir(o, dev.KernelRelease), mods, dev)
	if err != nil {
		return "", fmt.Errorf("writing device archive: %w", err)
	}

	out, err := os.CreateTemp(o.WorkDir, "takeover-initrd-*.cpio")
	if err != nil {
		return "", fmt.Errorf("creating combined initramfs: %w", err)
	}
	err = concat(out, payload, size, func(w io.Writer) error {
		return initramfs.WriteArchive(w, entries)
	})
	if cerr := out.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing %s: %w", out.Name(), cerr)
	}
	if err != nil {
		os.Remove(out.Name())
		return "", fmt.Errorf("writing combined initramfs: %w", err)
	}
	o.Log.WithFields(logrus.Fields{"initramfs": out.Name(), "payload": size}).
		Info("wrote combined initramfs")
	return out.Name(), nil
}

// modulesDir is the running kernel's module directory.
func modulesDir(o Options, release string) string {
	return filepath.Join(o.Root, "lib", "modules", release)
}

// checkPayload checks that the payload archive is an uncompressed newc
// archive (its size is then what it unpacks to, which the rootfs sizing
// relies on) and returns its size.
func checkPayload(f *os.File, path string) (int64, error) {
	head := make([]byte, len(newcMagic))
	if _, err := io.ReadFull(f, head); err != nil {
		return 0, fmt.Errorf("reading payload archive %s: %w", path, err)
	}
	if !bytes.Equal(head, newcMagic) {
		return 0, fmt.Errorf("reading payload archive %s: not an uncompressed newc cpio archive "+
			"(starts with %q): pass the file build-initrd wrote", path, head)
	}
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("reading payload archive %s: %w", path, err)
	}
	return st.Size(), nil
}

// concat writes size bytes of payload (from its start; the copy uses
// copy_file_range where the file systems allow), zero padding to a 512-byte
// boundary, then the archive device writes, and syncs.
func concat(out *os.File, payload *os.File, size int64, device func(io.Writer) error) error {
	n, err := io.Copy(out, io.NewSectionReader(payload, 0, size))
	if err != nil {
		return fmt.Errorf("copying payload archive: %w", err)
	}
	if n != size {
		return fmt.Errorf("copying payload archive: copied %d of %d bytes: %w", n, size,
			io.ErrUnexpectedEOF)
	}
	if pad := (512 - size%512) % 512; pad > 0 {
		if _, err := out.Write(make([]byte, pad)); err != nil {
			return fmt.Errorf("padding payload archive: %w", err)
		}
	}
	if err := device(out); err != nil {
		return fmt.Errorf("writing device archive: %w", err)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", out.Name(), err)
	}
	return nil
}

// checkWorkDir refuses a work directory in RAM or without room for need
// bytes.
func checkWorkDir(dir string, need int64) error {
	magic, avail, err := statfs(dir)
	if err != nil {
		return fmt.Errorf("checking work directory: %w", err)
	}
	if err := refuseRAM(dir, magic); err != nil {
		return err
	}
	if avail < need {
		return fmt.Errorf("checking work directory %s: %d MiB free, the initramfs needs %d MiB: "+
			"free space or pass another --work-dir", dir, avail>>20, need>>20)
	}
	return nil
}

// refuseRAM refuses a file system held in RAM: the kernel copies the
// initramfs into memory at load time, so a second copy on tmpfs or ramfs
// would double what the old OS needs.
func refuseRAM(dir string, magic int64) error {
	switch magic {
	case tmpfsMagic, ramfsMagic:
		return fmt.Errorf("checking work directory %s: it is in RAM (tmpfs or ramfs), and the "+
			"kernel copies the initramfs into RAM again at load time: pass a directory on a "+
			"disk to --work-dir, such as /var/tmp", dir)
	}
	return nil
}
