// Package e2e holds the end-to-end scenarios: a Debian old OS with systemd
// in QEMU (TCG) migrated by takeover against the local fake balena API, the
// disk's bytes checked from the host afterwards, and the new OS booted.
//
// The scenarios are tests behind the build tag e2e, so plain `go test ./...`
// compiles only this file. Run them with scripts/e2e.sh (make e2e), or
// `go test -tags e2e -v -timeout 60m ./e2e/...`; scripts/demo.sh (make demo)
// runs the first one with readable output.
package e2e
