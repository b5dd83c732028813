//go:build !linux

package efi

// isEfivarfs reports false: efivarfs exists only on Linux, so elsewhere
// the variables are plain files (tests).
func isEfivarfs(string) (bool, error) { return false, nil }

func clearImmutable(string) error { return nil }
