// Package exitcode is the one table that maps failures to process exit
// codes. Packages tag an error with a category where it is decided; main
// prints the error once and exits with Of(err).
package exitcode

import "errors"

// Code is a process exit code.
type Code int

// The exit codes of takeover. Keep README.md's table in step with this one.
const (
	OK          Code = 0  // success
	Internal    Code = 1  // a bug or an unexpected condition
	Usage       Code = 2  // bad flags or arguments
	Config      Code = 3  // config.json missing, unreadable or invalid
	Preflight   Code = 4  // the machine or environment is not fit for migration
	Fetch       Code = 5  // the image could not be downloaded or is invalid
	Initramfs   Code = 6  // the initramfs could not be built or read
	Boot        Code = 7  // kexec or init swap refused; the old OS still runs
	Flash       Code = 8  // writing the image to the disk failed
	Verify      Code = 9  // the image read back from the disk differs
	Interrupted Code = 10 // stopped by a signal or the user declined
)

var names = map[Code]string{
	OK: "ok", Internal: "internal", Usage: "usage", Config: "config",
	Preflight: "preflight", Fetch: "fetch", Initramfs: "initramfs",
	Boot: "boot", Flash: "flash", Verify: "verify", Interrupted: "interrupted",
}

// String names the code, as in the README's table.
func (c Code) String() string {
	if n, ok := names[c]; ok {
		return n
	}
	return "unknown"
}

// All lists every code in ascending order, for docs and tests.
func All() []Code {
	return []Code{OK, Internal, Usage, Config, Preflight, Fetch, Initramfs, Boot, Flash, Verify, Interrupted}
}

type coded struct {
	code Code
	err  error
}

func (e *coded) Error() string { return e.err.Error() }
func (e *coded) Unwrap() error { return e.err }

// With tags err with code c. A nil err stays nil. The innermost tag wins, so
// a package can decide the category where the failure happens.
func With(c Code, err error) error {
	if err == nil {
		return nil
	}
	return &coded{code: c, err: err}
}

// Of returns the exit code for err: OK for nil, the innermost tag's code,
// or Internal for an untagged error.
func Of(err error) Code {
	if err == nil {
		return OK
	}
	code := Internal
	for e := err; e != nil; e = errors.Unwrap(e) {
		if c, ok := e.(*coded); ok {
			code = c.code
		}
	}
	return code
}
