package initswap

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Sizing of the tmpfs and of what must stay free beside it.
const (
	tmpfsSlack = 16 << 20  // directories, the marker, a telinit copy
	headroom   = 192 << 20 // stage2 (Go heap limit 128 MiB) and the kernel while flashing
)

// memInfo is what the sizing reads from /proc/meminfo, in bytes.
type memInfo struct {
	Total, Available, SwapTotal, SwapFree int64
}

// readMemInfo reads procRoot/meminfo.
func readMemInfo(procRoot string) (memInfo, error) {
	p := filepath.Join(procRoot, "meminfo")
	f, err := os.Open(p)
	if err != nil {
		return memInfo{}, fmt.Errorf("reading memory size: %w", err)
	}
	defer f.Close()
	var mi memInfo
	fields := map[string]*int64{"MemTotal": &mi.Total, "MemAvailable": &mi.Available,
		"SwapTotal": &mi.SwapTotal, "SwapFree": &mi.SwapFree}
	seen := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		dst := fields[key]
		if !ok || dst == nil {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return memInfo{}, fmt.Errorf("reading %s: %s: %w", p, key, err)
		}
		*dst = kib << 10
		seen++
	}
	if err := sc.Err(); err != nil {
		return memInfo{}, fmt.Errorf("reading %s: %w", p, err)
	}
	if mi.Total == 0 || mi.Available == 0 {
		return memInfo{}, fmt.Errorf("reading %s: no MemTotal or MemAvailable", p)
	}
	return mi, nil
}

// tmpfsSize is the size of the tmpfs that holds unpacked bytes, rounded up
// to a MiB.
func tmpfsSize(unpacked int64) int64 {
	const mib = 1 << 20
	return (unpacked + tmpfsSlack + mib - 1) / mib * mib
}

// checkMemory refuses a swap the RAM cannot hold: the tmpfs, the pages that
// swapoff brings back, and headroom for stage2 must fit in what is
// available now, while the old OS still runs.
func checkMemory(mi memInfo, unpacked int64) error {
	swapped := mi.SwapTotal - mi.SwapFree
	need := tmpfsSize(unpacked) + swapped + headroom
	if mi.Available >= need {
		return nil
	}
	return fmt.Errorf("checking memory for the init swap: %d MiB available of %d MiB, "+
		"need %d MiB (%d MiB unpacked initramfs, %d MiB swapped out, %d MiB for stage2): "+
		"stop services to free memory or build a smaller payload",
		mi.Available>>20, mi.Total>>20, need>>20, unpacked>>20, swapped>>20, headroom>>20)
}
