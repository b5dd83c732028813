// Command mktestimage builds a small synthetic balenaOS image for tests,
// the end-to-end harness and the demo, without root or loop devices.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/takeover-dev/takeover/internal/testimage"
)

func main() {
	var o testimage.Options
	out := flag.String("o", "", "output image path; a .gz suffix implies -gzip")
	flag.StringVar(&o.Table, "table", "mbr", "partition table: mbr or gpt")
	flag.BoolVar(&o.Flasher, "flasher", false, "build a flasher image (flash-* labels)")
	flag.StringVar(&o.DeviceType, "device-type", "genericx86-64-ext", "device type slug")
	flag.StringVar(&o.Version, "version", "6.0.0", "balenaOS version")
	flag.Int64Var(&o.Size, "size-mib", 64, "image size in MiB (at least 48)")
	flag.StringVar(&o.Marker, "marker", "", "marker printed by the bootable rootA's init")
	flag.StringVar(&o.Busybox, "busybox", "", "static busybox to make rootA bootable")
	flag.BoolVar(&o.Gzip, "gzip", false, "gzip the image")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: mktestimage -o OUT.img[.gz] [flags]")
		flag.PrintDefaults()
		os.Exit(2)
	}
	o.Size <<= 20
	o.Gzip = o.Gzip || strings.HasSuffix(*out, ".gz")
	if err := testimage.Write(*out, o); err != nil {
		fmt.Fprintln(os.Stderr, "mktestimage:", err)
		os.Exit(1)
	}
	parts, err := testimage.Layout(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mktestimage:", err)
		os.Exit(1)
	}
	for _, p := range parts {
		fmt.Printf("%d %s start=%d size=%d fs=%s\n", p.Number, p.Label, p.Start, p.Size, p.FSType)
	}
}
