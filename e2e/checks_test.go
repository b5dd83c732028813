//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/takeover-dev/takeover/internal/vmtest"
)

func pass(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf("PASS "+format, args...)
}

// checkImageBytes checks the disk holds the image byte for byte outside
// what stage2 writes after flashing (boot and data partitions, GPT headers).
func checkImageBytes(t *testing.T, im image, disk string) {
	t.Helper()
	st, err := os.Stat(im.Raw)
	must(t, err)
	skip, err := vmtest.StageTwoExtents(im.Table, st.Size(), "resin-boot", "resin-data")
	must(t, err)
	d, err := os.Open(disk)
	must(t, err)
	defer d.Close()
	r, err := os.Open(im.Raw)
	must(t, err)
	defer r.Close()
	if err := vmtest.CompareOutside(d, r, st.Size(), skip); err != nil {
		t.Fatalf("flashed disk: %v", err)
	}
	pass(t, "disk equals the image byte for byte outside boot and data (%d bytes)", st.Size())
}

// checkVerifiedDigest checks stage2's VERIFIED line names the raw image's
// SHA-256.
func checkVerifiedDigest(t *testing.T, im image, line string) {
	t.Helper()
	want, err := vmtest.FileSHA256(im.Raw, -1)
	must(t, err)
	if !strings.Contains(line, markVerify+want) {
		t.Fatalf("stage2 verified line %q, want sha256=%s", line, want)
	}
	pass(t, "stage2 verified digest equals the image's (%s...)", want[:16])
}

// checkBootPartition checks config.json (hostname added, apiKey and every
// original key kept) and the NetworkManager keyfiles. It returns the
// config.json bytes as written.
func checkBootPartition(t *testing.T, s *scenario, disk string) []byte {
	t.Helper()
	boot := s.image.partition(t, "resin-boot")
	raw, err := vmtest.ReadVFAT(disk, boot.Start, "/config.json")
	must(t, err)
	var got, orig map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("config.json on the boot partition: %v", err)
	}
	must(t, json.Unmarshal(s.config, &orig))
	for k, v := range orig {
		if gb, _ := json.Marshal(got[k]); string(gb) != mustJSON(t, v) {
			t.Errorf("config.json[%q] = %s, want %s (kept)", k, gb, mustJSON(t, v))
		}
	}
	if got["hostname"] != s.hostname {
		t.Errorf("config.json hostname = %v, want %q", got["hostname"], s.hostname)
	}
	if t.Failed() {
		t.FailNow()
	}
	pass(t, "config.json on resin-boot keeps apiKey and every key, hostname %s", s.hostname)
	checkKeyfiles(t, disk, boot.Start)
	return raw
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	must(t, err)
	return string(b)
}

// checkKeyfiles checks system-connections holds the ethernet keyfile and one
// keyfile per Wi-Fi network of wpa_supplicant.conf.
func checkKeyfiles(t *testing.T, disk string, offset int64) {
	t.Helper()
	out, err := exec.Command("mdir", "-b", "-i", disk+"@@"+itoa(offset),
		"::/system-connections").CombinedOutput()
	if err != nil {
		t.Fatalf("listing system-connections on resin-boot: %v: %s", err, out)
	}
	var all strings.Builder
	names := strings.Fields(string(out))
	for _, n := range names {
		data, err := vmtest.ReadVFAT(disk, offset, strings.TrimPrefix(n, "::"))
		must(t, err)
		all.Write(data)
	}
	// The ethernet keyfile may be renamed (resin-ethernet-NN); its address
	// is what must survive.
	for _, want := range []string{"192.168.77.10/24", "e2e-office", "e2e-warehouse"} {
		if !strings.Contains(all.String(), want) {
			t.Fatalf("keyfiles %q on resin-boot hold no %q", names, want)
		}
	}
	pass(t, "resin-boot/system-connections holds %d keyfiles (ethernet + 2 Wi-Fi)", len(names))
}

// checkDataPartition checks backup.tgz holds the backed-up data and the
// stage2 log is saved.
func checkDataPartition(t *testing.T, s *scenario, disk string) {
	t.Helper()
	data := s.image.partition(t, "resin-data")
	tgz, err := vmtest.ReadExt4(disk, data.Start, "/backup.tgz")
	must(t, err)
	files := untgz(t, tgz)
	found := ""
	for name, body := range files {
		if strings.Contains(body, "backup marker "+s.marker) {
			found = name
		}
	}
	if found == "" {
		t.Fatalf("backup.tgz (%d files: %v) holds no readme.txt with the marker", len(files), keys(files))
	}
	pass(t, "resin-data/backup.tgz holds %s (%d entries)", found, len(files))
	checkStage2Log(t, disk, data.Start)
}

func checkStage2Log(t *testing.T, disk string, offset int64) {
	t.Helper()
	log, err := vmtest.ReadExt4(disk, offset, "/fallback_log/fallback.log")
	if err != nil {
		list, _ := vmtest.ListExt4(disk, offset, "/")
		t.Fatalf("stage2 log: %v; root holds:\n%s", err, list)
	}
	if len(bytes.TrimSpace(log)) == 0 {
		t.Fatal("stage2 log fallback_log/fallback.log is empty")
	}
	pass(t, "stage2 log saved: fallback_log/fallback.log (%d bytes)", len(log))
}

// oldRootLogName is the name stage2 gives its log on the old root.
var oldRootLogName = regexp.MustCompile(`stage2-\d{8}T\d{6}Z\.log`)

// checkOldRootLog checks stage2 left its log on the old root, where the old
// OS can read it after a run that stopped before the first write: one
// /var/log/takeover/stage2-<UTC time>.log, mode 0600, holding want.
func checkOldRootLog(t *testing.T, disk string, want ...string) {
	t.Helper()
	list, err := vmtest.ListExt4(disk, rootPartitionOffset, "/var/log/takeover")
	if err != nil {
		root, _ := vmtest.ListExt4(disk, rootPartitionOffset, "/var/log")
		t.Fatalf("stage2 log on the old root: %v; /var/log holds:\n%s", err, root)
	}
	names := oldRootLogName.FindAllString(list, -1)
	if len(names) != 1 || !strings.Contains(list, "100600") {
		t.Fatalf("old root /var/log/takeover holds %v, want one stage2-<UTC time>.log, "+
			"mode 0600:\n%s", names, list)
	}
	log, err := vmtest.ReadExt4(disk, rootPartitionOffset, "/var/log/takeover/"+names[0])
	must(t, err)
	for _, w := range want {
		if !bytes.Contains(log, []byte(w)) {
			t.Fatalf("old root /var/log/takeover/%s (%d bytes) holds no %q:\n%s", names[0],
				len(log), w, lastLines(string(log), 20))
		}
	}
	pass(t, "stage2 log on the old root: /var/log/takeover/%s (%d bytes, mode 0600) holds %q",
		names[0], len(log), want)
}

func untgz(t *testing.T, b []byte) map[string]string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("backup.tgz: %v", err)
	}
	tr := tar.NewReader(zr)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("backup.tgz: %v", err)
		}
		body, err := io.ReadAll(tr)
		must(t, err)
		files[h.Name] = string(body)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// diskState is what must not change when takeover refuses: every byte
// outside the old root file system (MBR, partition table, the gap before
// the first partition). The root file system itself is written by the
// running old OS, so it is checked for consistency instead.
type diskState struct{ head string }

const headBytes = rootPartitionOffset

func snapshotDisk(t *testing.T, disk string) diskState {
	t.Helper()
	sum, err := vmtest.FileSHA256(disk, headBytes)
	must(t, err)
	return diskState{head: sum}
}

// checkOldOSIntact checks the disk is still the old OS's: the first MiB
// (table and boot area) unchanged, no image partition table, a consistent
// root file system that still holds the scenario's files.
func checkOldOSIntact(t *testing.T, s *scenario, disk string, before diskState) {
	t.Helper()
	after := snapshotDisk(t, disk)
	if after != before {
		t.Fatalf("disk's first MiB changed: sha256 %s, before %s", after.head, before.head)
	}
	pass(t, "disk's first MiB (partition table) unchanged: sha256 %s...", after.head[:16])
	root := disk + "?offset=" + itoa(rootPartitionOffset)
	out, err := exec.Command("e2fsck", "-fn", root).CombinedOutput()
	if err != nil {
		t.Fatalf("e2fsck -fn of the old root: %v\n%s", err, lastLines(string(out), 15))
	}
	pass(t, "old root file system is clean (e2fsck -fn)")
	host, err := vmtest.ReadExt4(disk, rootPartitionOffset, "/etc/hostname")
	must(t, err)
	if strings.TrimSpace(string(host)) != s.hostname {
		t.Fatalf("old root /etc/hostname = %q, want %q", host, s.hostname)
	}
	pass(t, "old root still holds its files (/etc/hostname %s)", s.hostname)
}
