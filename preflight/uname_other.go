//go:build !linux

package preflight

// unameMachine is unknown off Linux: takeover only migrates Linux machines.
func unameMachine() string { return "" }
