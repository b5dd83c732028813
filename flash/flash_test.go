package flash

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/takeover-dev/takeover/exitcode"
)

// write records one WriteAt.
type write struct {
	off  int64
	n    int
	zero bool
}

// faultDisk wraps a Disk, records writes and injects failures.
type faultDisk struct {
	Disk
	mu          sync.Mutex
	writes      []write
	failWriteAt int64 // a write covering this offset fails; -1 for none
	writeFails  int   // how many times it fails; -1 for always
	// failWriteAfter lets that many writes covering failWriteAt pass first.
	failWriteAfter int
	corruptReads   int // how many read-backs of byte 2 MiB return a flipped bit; -1 always
}

func (d *faultDisk) WriteAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.writes = append(d.writes, write{off: off, n: len(p), zero: isZeros(p)})
	if d.failWriteAt >= 0 && off <= d.failWriteAt && d.failWriteAt < off+int64(len(p)) &&
		d.writeFails != 0 {
		if d.failWriteAfter > 0 {
			d.failWriteAfter--
			return d.Disk.WriteAt(p, off)
		}
		d.writeFails--
		return 0, errors.New("input/output error")
	}
	return d.Disk.WriteAt(p, off)
}

func (d *faultDisk) ReadAt(p []byte, off int64) (int, error) {
	n, err := d.Disk.ReadAt(p, off)
	d.mu.Lock()
	defer d.mu.Unlock()
	if bad := int64(2 << 20); off <= bad && bad < off+int64(n) && d.corruptReads != 0 {
		d.corruptReads--
		p[bad-off] ^= 1
	}
	return n, err
}

func isZeros(p []byte) bool {
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}

// fixture is an image and a disk file prefilled with junk.
type fixture struct {
	image []byte
	sum   string
	path  string
	disk  *faultDisk
}

func newFixture(t *testing.T, imageSize, diskSize int) *fixture {
	t.Helper()
	rnd := rand.New(rand.NewSource(1))
	img := make([]byte, imageSize)
	rnd.Read(img)
	junk := bytes.Repeat([]byte{0xA5}, diskSize)
	path := filepath.Join(t.TempDir(), "disk")
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFile(path, 512)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	s := sha256.Sum256(img)
	return &fixture{image: img, sum: hex.EncodeToString(s[:]), path: path,
		disk: &faultDisk{Disk: f, failWriteAt: -1}}
}

func (f *fixture) options(stream func() []byte) Options {
	if stream == nil {
		stream = func() []byte { return f.image }
	}
	return Options{
		Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(stream())), nil
		},
		RawSize: int64(len(f.image)), RawSHA256: f.sum, Disk: f.disk, Retries: 2,
		ChunkSize: 1 << 20, SyncEvery: 2 << 20,
	}
}

func (f *fixture) content(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertFlashed checks the disk holds the image followed by the untouched
// junk, but for the last 33 sectors: the old backup GPT, cleared before the
// first image byte was written.
func (f *fixture) assertFlashed(t *testing.T) {
	t.Helper()
	got := f.content(t)
	if !bytes.Equal(got[:len(f.image)], f.image) {
		t.Error("disk does not start with the image")
	}
	tail := len(got) - 33*512
	if !bytes.Equal(got[len(f.image):tail], bytes.Repeat([]byte{0xA5}, tail-len(f.image))) {
		t.Error("bytes after the image were changed")
	}
	if !isZeros(got[tail:]) {
		t.Error("the old backup GPT at the disk's end was not cleared")
	}
}

// assertWiped checks no partition table survives: first MiB and last 33
// sectors zero.
func (f *fixture) assertWiped(t *testing.T) {
	t.Helper()
	got := f.content(t)
	if !isZeros(got[:HeadSize]) || !isZeros(got[len(got)-33*512:]) {
		t.Error("disk head or tail not wiped")
	}
}

const odd = 3<<20 + 12345 // an image size that is not a multiple of anything

func TestRunFlashesAndVerifies(t *testing.T) {
	f := newFixture(t, odd, 8<<20)
	res, err := Run(context.Background(), f.options(nil))
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if res.Attempts != 1 || res.SHA256 != f.sum || res.Bytes != odd || res.Wiped {
		t.Errorf("Run = %+v, want 1 attempt, digest %s, %d bytes", res, f.sum, odd)
	}
	f.assertFlashed(t)
}

// The first MiB holds the partition table: if power fails mid-flash the
// disk must have none. So the head is zeroed before anything else and its
// content written after everything else.
func TestRunWritesHeadLast(t *testing.T) {
	f := newFixture(t, odd, 8<<20)
	if _, err := Run(context.Background(), f.options(nil)); err != nil {
		t.Fatalf("Run = %v", err)
	}
	w := f.disk.writes
	if len(w) < 3 {
		t.Fatalf("writes = %+v, want at least 3", w)
	}
	if first := w[0]; first.off != 0 || first.n != HeadSize || !first.zero {
		t.Errorf("first write = %+v, want %d zero bytes at 0", first, HeadSize)
	}
	// The old backup GPT at the disk's end goes before any image byte too.
	if second := w[1]; second.off != 8<<20-33*512 || !second.zero {
		t.Errorf("second write = %+v, want zeros over the last 33 sectors", second)
	}
	if last := w[len(w)-1]; last.off != 0 || last.n != HeadSize || last.zero {
		t.Errorf("last write = %+v, want the image's head at 0", last)
	}
	for _, x := range w[2 : len(w)-1] {
		if x.off < HeadSize {
			t.Errorf("write %+v touches the head between zeroing and the end", x)
		}
	}
}

func TestRunFaults(t *testing.T) {
	tests := []struct {
		name         string
		failWriteAt  int64
		writeFails   int
		corruptReads int
		stream       func(img []byte) []byte
		wantAttempts int
		wantCode     exitcode.Code // OK for success
		wantIs       error
	}{
		{name: "write error once", failWriteAt: 2 << 20, writeFails: 1,
			wantAttempts: 2},
		{name: "write error always", failWriteAt: 2 << 20, writeFails: -1,
			wantAttempts: 3, wantCode: exitcode.Flash},
		{name: "read-back differs once", corruptReads: 1, wantAttempts: 2},
		{name: "read-back differs always", corruptReads: -1, wantAttempts: 3,
			wantCode: exitcode.Verify, wantIs: ErrVerifyMismatch},
		{name: "corrupt payload", wantAttempts: 1, wantCode: exitcode.Flash,
			wantIs: ErrPayloadCorrupt, stream: func(img []byte) []byte {
				b := bytes.Clone(img)
				b[len(b)-1] ^= 0xff
				return b
			}},
		{name: "short stream", wantAttempts: 1, wantCode: exitcode.Flash, wantIs: ErrPayloadCorrupt,
			stream: func(img []byte) []byte { return img[:len(img)-1] }},
		{name: "long stream", wantAttempts: 1, wantCode: exitcode.Flash, wantIs: ErrPayloadCorrupt,
			stream: func(img []byte) []byte { return append(bytes.Clone(img), 0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, odd, 8<<20)
			f.disk.failWriteAt, f.disk.writeFails = tt.failWriteAt, tt.writeFails
			f.disk.corruptReads = tt.corruptReads
			o := f.options(nil)
			if tt.stream != nil {
				o = f.options(func() []byte { return tt.stream(f.image) })
			}
			res, err := Run(context.Background(), o)
			if res.Attempts != tt.wantAttempts {
				t.Errorf("Run attempts = %d, want %d (err %v)", res.Attempts, tt.wantAttempts, err)
			}
			if got := exitcode.Of(err); got != tt.wantCode {
				t.Errorf("Run = %v (code %s), want code %s", err, got, tt.wantCode)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Run = %v, want errors.Is %v", err, tt.wantIs)
			}
			if tt.wantCode == exitcode.OK {
				f.assertFlashed(t)
				return
			}
			if !res.Wiped {
				t.Errorf("Run result %+v, want Wiped", res)
			}
			f.assertWiped(t)
		})
	}
}

func TestRunLeavesDiskUntouchedBeforeFirstWrite(t *testing.T) {
	tests := []struct {
		name   string
		modify func(o *Options)
	}{
		{name: "image larger than disk", modify: func(o *Options) { o.RawSize = 9 << 20 }},
		{name: "open fails", modify: func(o *Options) {
			o.Open = func() (io.ReadCloser, error) { return nil, os.ErrNotExist }
		}},
		{name: "no digest", modify: func(o *Options) { o.RawSHA256 = "" }},
	}
	for _, tt := range tests {
		f := newFixture(t, odd, 8<<20)
		o := f.options(nil)
		tt.modify(&o)
		res, err := Run(context.Background(), o)
		if err == nil || res.Written || len(f.disk.writes) != 0 {
			t.Errorf("%s: Run = %+v, %v, %d writes; want an error and no write", tt.name, res,
				err, len(f.disk.writes))
		}
	}
}

type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("decompressor bug") }

func TestRunTurnsStreamPanicIntoError(t *testing.T) {
	f := newFixture(t, odd, 8<<20)
	o := f.options(nil)
	o.Open = func() (io.ReadCloser, error) { return io.NopCloser(panicReader{}), nil }
	res, err := Run(context.Background(), o)
	if !errors.Is(err, errPanic) || !res.Wiped || res.Attempts != 1 {
		t.Errorf("Run(panicking stream) = %+v, %v; want one attempt, errPanic, a wiped disk",
			res, err)
	}
	f.assertWiped(t)
}

// A GPT image smaller than the disk has its backup table in the middle of
// the disk; Run moves it to the end.
func TestRunRelocatesBackupGPT(t *testing.T) {
	sgdisk, err := exec.LookPath("sgdisk")
	if err != nil {
		t.Skip("sgdisk not installed: cannot build a GPT image")
	}
	f := newFixture(t, 4<<20, 8<<20)
	img := filepath.Join(t.TempDir(), "img")
	if err := os.WriteFile(img, make([]byte, 4<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sgdisk, "-n", "1:2048:4095", img).CombinedOutput(); err != nil {
		t.Fatalf("sgdisk: %v: %s", err, out)
	}
	f.image, err = os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(f.image)
	f.sum = hex.EncodeToString(s[:])
	if _, err := Run(context.Background(), f.options(nil)); err != nil {
		t.Fatalf("Run = %v", err)
	}
	got := f.content(t)
	if sig := string(got[len(got)-512 : len(got)-512+8]); sig != "EFI PART" {
		t.Errorf("last sector of the disk starts %q, want the backup GPT header", sig)
	}
	out, err := exec.Command(sgdisk, "-v", f.path).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("No problems found")) {
		t.Errorf("sgdisk -v after Run: %v: %s", err, out)
	}
}

// When the wipe itself fails the error must still carry the attempt's exit
// code (a joined error hides it from exitcode.Of) and say the disk is not
// wiped.
func TestRunWipeFailureKeepsCode(t *testing.T) {
	f := newFixture(t, odd, 8<<20)
	f.disk.corruptReads = -1
	// The backup GPT area fails only after the attempts' own clearing of it
	// (one per attempt, three attempts), so the final wipe is what fails.
	f.disk.failWriteAt, f.disk.writeFails = 8<<20-512, -1
	f.disk.failWriteAfter = 3
	res, err := Run(context.Background(), f.options(nil))
	if exitcode.Of(err) != exitcode.Verify || res.Wiped {
		t.Errorf("Run = %+v, %v (code %s), want code verify and not wiped", res, err,
			exitcode.Of(err))
	}
}

// A File writes back in ranges (sync_file_range) instead of whole syncs;
// the image must come out the same.
func TestRunWithRangeWriteback(t *testing.T) {
	f := newFixture(t, odd, 8<<20)
	o := f.options(nil)
	o.Disk, o.SyncEvery = f.disk.Disk, 1<<20
	if _, ok := o.Disk.(rangeSyncer); !ok {
		t.Skip("File has no range writeback on this OS")
	}
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatalf("Run = %v", err)
	}
	f.assertFlashed(t)
}
