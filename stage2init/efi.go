package stage2init

import (
	"context"
	"os"
	"path/filepath"
)

// setupEFI would point the firmware's boot order at balenaOS.
func (r *run) setupEFI(context.Context) error {
	if _, err := os.Stat(filepath.Join(r.cfg.SysRoot, "firmware", "efi")); err != nil {
		r.log.Info("no EFI firmware, skipping EFI setup")
		return nil
	}
	if !r.payload.Options.EFISetup {
		r.log.Info("EFI setup turned off by the plan, skipping it")
		return nil
	}
	// TODO: write Boot#### and BootOrder through efivarfs so the firmware
	// boots \EFI\BOOT\bootx64.efi on the flashed disk first. Until then the
	// old OS's entries stay first and the firmware reaches balenaOS only by
	// falling back to the disk's removable-media path once they fail.
	r.log.Warn("EFI boot entry not set up: not implemented; relying on the firmware's " +
		"fallback to \\EFI\\BOOT on the flashed disk")
	return nil
}
