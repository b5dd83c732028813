package preflight

import "golang.org/x/sys/unix"

// unameMachine returns uname(2)'s machine field, "" on failure.
func unameMachine() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Machine[:])
}
