package preflight

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Model is the hardware takeover runs on, as the firmware describes it.
type Model struct {
	Arch       string   // balena architecture of the running kernel: amd64, aarch64 ...
	Name       string   // DT model or DMI vendor and product
	Compatible []string // DT compatible strings, most specific first
	Slugs      []string // balena device types whose image boots on this model
}

// deviceType is what the check knows about a balena device type.
type deviceType struct {
	arch string
}

// deviceTypes are the device types takeover knows how to check. A slug not
// listed is refused unless --no-dt-check.
var deviceTypes = map[string]deviceType{
	"raspberry-pi":                 {arch: "rpi"},
	"raspberry-pi2":                {arch: "armv7hf"},
	"raspberrypi3":                 {arch: "armv7hf"},
	"raspberrypi3-64":              {arch: "aarch64"},
	"raspberrypi0-2w-64":           {arch: "aarch64"},
	"raspberrypi4-64":              {arch: "aarch64"},
	"raspberrypi400-64":            {arch: "aarch64"},
	"raspberrypicm4-ioboard":       {arch: "aarch64"},
	"raspberrypi5":                 {arch: "aarch64"},
	"beaglebone-black":             {arch: "armv7hf"},
	"beaglebone-green":             {arch: "armv7hf"},
	"beaglebone-green-wifi":        {arch: "armv7hf"},
	"beagleboard-xm":               {arch: "armv7hf"},
	"jetson-nano":                  {arch: "aarch64"},
	"jetson-tx2":                   {arch: "aarch64"},
	"jetson-xavier":                {arch: "aarch64"},
	"jetson-xavier-nx-devkit":      {arch: "aarch64"},
	"jetson-xavier-nx-devkit-emmc": {arch: "aarch64"},
	"jetson-agx-orin-devkit":       {arch: "aarch64"},
	"jetson-orin-nano-devkit-nvme": {arch: "aarch64"},
	"intel-nuc":                    {arch: "amd64"},
	"genericx86-64-ext":            {arch: "amd64"},
	"generic-amd64":                {arch: "amd64"},
	"generic-aarch64":              {arch: "aarch64"},
}

// dtSlugs maps a DT compatible string to the device types that boot on
// it. The first compatible string (the most specific) that is listed wins.
var dtSlugs = []struct {
	compatible string
	slugs      []string
}{
	{"raspberrypi,model-zero-2-w",
		[]string{"raspberrypi0-2w-64", "raspberrypi3", "raspberrypi3-64"}},
	{"raspberrypi,400", []string{"raspberrypi400-64", "raspberrypi4-64"}},
	{"raspberrypi,4-compute-module", []string{"raspberrypicm4-ioboard", "raspberrypi4-64"}},
	{"brcm,bcm2712", []string{"raspberrypi5"}},
	{"brcm,bcm2711", []string{"raspberrypi4-64"}},
	{"brcm,bcm2837", []string{"raspberrypi3", "raspberrypi3-64"}},
	{"brcm,bcm2836", []string{"raspberry-pi2"}},
	{"brcm,bcm2835", []string{"raspberry-pi"}},
	{"ti,am335x-bone-green-wireless", []string{"beaglebone-green-wifi"}},
	{"ti,am335x-bone-green", []string{"beaglebone-green"}},
	{"ti,am335x-bone-black", []string{"beaglebone-black"}},
	{"ti,omap3-beagle-xm", []string{"beagleboard-xm"}},
	{"nvidia,p3668-0001", []string{"jetson-xavier-nx-devkit-emmc"}},
	{"nvidia,p3668-0000", []string{"jetson-xavier-nx-devkit"}},
	{"nvidia,p2972-0000", []string{"jetson-xavier"}},
	{"nvidia,tegra234", []string{"jetson-agx-orin-devkit", "jetson-orin-nano-devkit-nvme"}},
	{"nvidia,tegra186", []string{"jetson-tx2"}},
	{"nvidia,tegra210", []string{"jetson-nano"}},
}

// piModel recognises a Raspberry Pi by its model string where the device
// tree has no compatible property (old firmware): the number or name
// after "Raspberry Pi" decides.
var piModel = regexp.MustCompile(
	`^Raspberry Pi (Compute Module )?(5|400|4|3|2|Zero 2|Zero|Model)\b`)

var piModelSlugs = map[string][]string{
	"5":   {"raspberrypi5"},
	"4":   {"raspberrypi4-64"},
	"400": {"raspberrypi400-64", "raspberrypi4-64"},
	"3":   {"raspberrypi3", "raspberrypi3-64"}, "2": {"raspberry-pi2"},
	"Zero 2": {"raspberrypi0-2w-64", "raspberrypi3", "raspberrypi3-64"},
	"Zero":   {"raspberry-pi"}, "Model": {"raspberry-pi"},
}

// x86Slugs boot on any x86-64 machine: PCs, NUCs and virtual machines alike.
var x86Slugs = []string{"intel-nuc", "genericx86-64-ext", "generic-amd64"}

// DetectModel reads the hardware description under root: the device tree
// on ARM boards, DMI on PCs.
func DetectModel(root string) (Model, error) {
	root = rootOr(root)
	m := Model{Arch: machineArch(root)}
	model, _ := readTrim(root, "proc/device-tree/model")
	compat, _ := os.ReadFile(filepath.Join(root, "proc/device-tree/compatible"))
	for _, s := range strings.Split(string(compat), "\x00") {
		if s != "" {
			m.Compatible = append(m.Compatible, s)
		}
	}
	noDT := model == "" && len(m.Compatible) == 0
	switch {
	case m.Arch == "amd64" || (noDT && m.Arch != "aarch64"):
		return dmiModel(root, m)
	case noDT:
		m.Name, m.Slugs = "UEFI/ACPI arm64 machine", []string{"generic-aarch64"}
		return m, nil
	}
	m.Name = model
	m.Slugs = dtModelSlugs(m.Compatible, model)
	if len(m.Slugs) == 0 {
		return m, fmt.Errorf("model %q (compatible %s) is not one takeover knows", model,
			strings.Join(m.Compatible, ", "))
	}
	return m, nil
}

func dtModelSlugs(compat []string, model string) []string {
	for _, c := range compat {
		for _, e := range dtSlugs {
			if e.compatible == c {
				return e.slugs
			}
		}
	}
	if sub := piModel.FindStringSubmatch(model); sub != nil {
		if sub[1] != "" && sub[2] == "4" {
			return []string{"raspberrypicm4-ioboard", "raspberrypi4-64"}
		}
		return piModelSlugs[sub[2]]
	}
	return nil
}

func dmiModel(root string, m Model) (Model, error) {
	vendor, errV := readTrim(root, "sys/class/dmi/id/sys_vendor")
	product, _ := readTrim(root, "sys/class/dmi/id/product_name")
	if errV != nil && m.Arch == "" {
		return m, errors.New("neither a device tree nor DMI data: cannot tell the hardware")
	}
	m.Name = strings.TrimSpace(vendor + " " + product)
	if m.Name == "" {
		m.Name = "x86-64 machine without DMI data"
	}
	if m.Arch == "" {
		m.Arch = "amd64" // DMI is an x86 (or UEFI) feature; the arch file was missing
	}
	if m.Arch != "amd64" {
		return m, fmt.Errorf("%s with a %s kernel is not one takeover knows", m.Name, m.Arch)
	}
	m.Slugs = x86Slugs
	return m, nil
}

func readTrim(root, rel string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		return "", err
	}
	return trimNul(b), nil
}

// machineArch is the balena name of the running kernel's architecture:
// from /proc/sys/kernel/arch (Linux 6.1 and later), else from uname when
// root is the real root. "" when unknown.
func machineArch(root string) string {
	m, err := readTrim(root, "proc/sys/kernel/arch")
	if errors.Is(err, fs.ErrNotExist) && filepath.Clean(root) == "/" {
		m = unameMachine()
	}
	switch m {
	case "x86_64":
		return "amd64"
	case "i386", "i486", "i586", "i686":
		return "i386"
	case "aarch64", "arm64":
		return "aarch64"
	case "armv7l", "armv8l":
		return "armv7hf"
	case "armv6l":
		return "rpi"
	}
	return ""
}

func checkDevice(_ context.Context, o Options) Check {
	return downgrade(deviceCheck(o), o.NoDTCheck, "--no-dt-check")
}

func deviceCheck(o Options) Check {
	c := Check{Name: "device", Status: StatusFail, Fix: "pass --no-dt-check only if you " +
		"know the image boots on this hardware: a wrong one leaves it unbootable"}
	if o.DeviceType == "" {
		c.Detail = "config.json has no deviceType"
		c.Fix = "use a config.json downloaded for the fleet"
		return c
	}
	dt, known := deviceTypes[o.DeviceType]
	m, err := DetectModel(o.Root)
	switch {
	case !known:
		c.Detail = "device type " + o.DeviceType + " is not one takeover can check"
	case err != nil:
		c.Detail = "detecting the hardware: " + err.Error()
	case !slices.Contains(m.Slugs, o.DeviceType):
		c.Detail = fmt.Sprintf("%s takes device types %s; config.json has %s", m.Name,
			strings.Join(m.Slugs, ", "), o.DeviceType)
		c.Fix = "use a config.json from a fleet of one of those device types, or " + c.Fix
	case !archRuns(m.Arch, dt.arch):
		c.Detail = fmt.Sprintf("%s kernel cannot be replaced by a %s image", m.Arch, dt.arch)
	default:
		c.Status, c.Fix = StatusOK, ""
		c.Detail = fmt.Sprintf("%s (%s) takes %s", m.Name, m.Arch, o.DeviceType)
	}
	return c
}

// archRuns reports whether a machine whose kernel is running arch can take
// an image for want. A 32-bit ARM kernel on a 64-bit Pi is fine: the model
// table already said the CPU runs the image.
func archRuns(arch, want string) bool {
	arm := func(a string) bool { return a == "aarch64" || a == "armv7hf" || a == "rpi" }
	switch {
	case arch == "":
		return true // unknown: the model table decided
	case arm(arch):
		return arm(want)
	default:
		return arch == want
	}
}
