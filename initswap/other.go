//go:build !linux

package initswap

import (
	"context"
	"errors"
)

var errNotLinux = errors.New("the init swap exists only on Linux")

// FallBack never falls back off Linux.
func FallBack(err error) (string, bool) { return "", false }

// Prepare needs Linux.
func Prepare(ctx context.Context, o Options) error { return errNotLinux }

// EnterIfSwapped has nothing to do off Linux.
func EnterIfSwapped() {}
