package efi

import "runtime"

// runtimeGOARCH picks the default loader; a variable so tests can vary it.
var runtimeGOARCH = runtime.GOARCH
