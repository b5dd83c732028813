package fakeapi

import "strings"

// Contract is the part of a hw.device-type contract the fake serves.
type Contract struct {
	Slug          string
	ID            int64
	Name          string
	Aliases       []string // extra names the slug is known by
	Arch          string
	DefaultBoot   string   // internal, sdcard ...
	AltBoot       []string // absent when empty
	FlashProtocol string   // absent when empty
}

// DefaultContracts are the device types of the contracts repository that
// takeover deals with, with their real media fields.
func DefaultContracts() []Contract {
	return []Contract{
		{Slug: "intel-nuc", ID: 30, Name: "Intel NUC", Aliases: []string{"nuc"}, Arch: "amd64",
			DefaultBoot: "internal", AltBoot: []string{"usb_mass_storage", "network"}},
		{Slug: "genericx86-64-ext", ID: 31, Name: "Generic x86_64", Arch: "amd64",
			DefaultBoot: "internal", AltBoot: []string{"usb_mass_storage"}},
		{Slug: "generic-amd64", ID: 32, Name: "Generic x86_64 (GPT)", Arch: "amd64",
			DefaultBoot: "internal", AltBoot: []string{"usb_mass_storage"}},
		{Slug: "beaglebone-black", ID: 33, Name: "BeagleBone Black", Arch: "armv7hf",
			DefaultBoot: "internal", AltBoot: []string{"sdcard"}},
		{Slug: "raspberrypi3", ID: 24, Name: "Raspberry Pi 3", Arch: "armv7hf",
			DefaultBoot: "sdcard", AltBoot: []string{"usb_mass_storage", "network"}},
		{Slug: "raspberrypi4-64", ID: 58, Name: "Raspberry Pi 4 (64bit)", Arch: "aarch64",
			DefaultBoot: "sdcard", AltBoot: []string{"usb_mass_storage", "network"}},
		{Slug: "jetson-xavier", ID: 40, Name: "Jetson AGX Xavier", Arch: "aarch64",
			DefaultBoot: "internal", FlashProtocol: "jetsonFlash"},
	}
}

// Flasher applies the contracts' rule to c.
func (c Contract) Flasher() bool {
	return c.DefaultBoot == "internal" && len(c.AltBoot) > 0 && c.FlashProtocol == ""
}

// contractJSON renders c in the shape of contract.json.
func (c Contract) contractJSON() map[string]any {
	media := map[string]any{"defaultBoot": c.DefaultBoot}
	if len(c.AltBoot) > 0 {
		media["altBoot"] = c.AltBoot
	}
	data := map[string]any{"arch": c.Arch, "media": media}
	if c.FlashProtocol != "" {
		data["flashProtocol"] = c.FlashProtocol
	}
	aliases := append([]string{c.Slug}, c.Aliases...)
	return map[string]any{"slug": c.Slug, "version": "1", "type": "hw.device-type",
		"aliases": aliases, "name": c.Name, "data": data}
}

// contract finds the device type called alias. A raspberrypi* slug not in
// the table, or any slug with images, gets a non-flasher sdcard contract.
func (s *Server) contract(alias string) (Contract, bool) {
	for _, c := range s.o.Contracts {
		if c.Slug == alias {
			return c, true
		}
		for _, a := range c.Aliases {
			if a == alias {
				return c, true
			}
		}
	}
	if strings.HasPrefix(alias, "raspberrypi") || len(s.versions(alias)) > 0 {
		return Contract{Slug: alias, ID: 1000 + int64(len(alias)), Name: alias,
			Arch: "unknown", DefaultBoot: "sdcard"}, true
	}
	return Contract{}, false
}
