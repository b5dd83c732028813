package preflight

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// MemAvailable returns the memory the kernel says is available without
// swapping, from /proc/meminfo under root. On kernels older than 3.14,
// which lack MemAvailable, it adds MemFree, Buffers and Cached instead.
func MemAvailable(root string) (int64, error) {
	data, err := os.ReadFile(filepath.Join(rootOr(root), "proc/meminfo"))
	if err != nil {
		return 0, fmt.Errorf("reading memory info: %w", err)
	}
	kb := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		kb[strings.TrimSuffix(f[0], ":")] = n
	}
	if v, ok := kb["MemAvailable"]; ok {
		return v << 10, nil
	}
	free, ok := kb["MemFree"]
	if !ok {
		return 0, fmt.Errorf("reading memory info: neither MemAvailable nor MemFree in meminfo")
	}
	return (free + kb["Buffers"] + kb["Cached"]) << 10, nil
}

func checkMemory(_ context.Context, o Options) Check {
	c := Check{Name: "memory"}
	if o.MinMemory <= 0 {
		c.Status, c.Detail = StatusSkip, "need not known yet (no image chosen)"
		return c
	}
	avail, err := MemAvailable(o.Root)
	if err != nil {
		c.Status, c.Detail = StatusFail, err.Error()
		c.Fix = "run on a Linux system with /proc mounted"
		return c
	}
	if avail < o.MinMemory {
		c.Status = StatusFail
		c.Detail = fmt.Sprintf("%s available, the image and payload need %s",
			mib(avail), mib(o.MinMemory))
		c.Fix = "stop services to free memory, or use a smaller image or backup"
		return c
	}
	c.Status = StatusOK
	c.Detail = fmt.Sprintf("%s available, %s needed", mib(avail), mib(o.MinMemory))
	return c
}

func checkDisk(_ context.Context, o Options) Check {
	c := Check{Name: "disk"}
	switch {
	case o.TargetDisk == "":
		c.Status, c.Detail = StatusSkip, "target disk not chosen yet"
	case o.TargetDiskSize <= 0 || o.ImageRawSize <= 0:
		c.Status, c.Detail = StatusSkip, o.TargetDisk+": image size not known yet"
	case o.TargetDiskSize < o.ImageRawSize:
		c.Status = StatusFail
		c.Detail = fmt.Sprintf("%s holds %d bytes, the image needs %d", o.TargetDisk,
			o.TargetDiskSize, o.ImageRawSize)
		c.Fix = "flash to a larger disk with --flash-to"
	default:
		c.Status = StatusOK
		c.Detail = fmt.Sprintf("%s holds %s, the image needs %s", o.TargetDisk,
			mib(o.TargetDiskSize), mib(o.ImageRawSize))
	}
	return c
}
