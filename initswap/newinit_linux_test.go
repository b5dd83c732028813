package initswap

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/takeover-dev/takeover/initramfs"
)

// TestCheckNewInit uses this test binary, which holds the marker magic as
// every takeover with this package does, as the /init of an initramfs.
func TestCheckNewInit(t *testing.T) {
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Skipf("reading this test binary: %v", err)
	}
	withoutMagic := bytes.ReplaceAll(self, []byte(magic), bytes.Repeat([]byte("x"), len(magic)))
	otherArch := bytes.Clone(self)
	otherArch[18] ^= 0x40 // e_machine, low byte
	for _, tc := range []struct {
		name    string
		init    []byte
		wantErr string
	}{
		{name: "takeover with the init swap", init: self},
		{name: "takeover without it", init: withoutMagic, wantErr: "without the init swap"},
		{name: "other architecture", init: otherArch, wantErr: "build the payload for this"},
		{name: "not ELF", init: []byte("#!/bin/sh\necho hi\n"), wantErr: "bad magic"},
	} {
		l, err := openListing(combined(t, []initramfs.Entry{
			{Path: "/init", Data: tc.init, Mode: 0o755}}))
		if err != nil {
			t.Fatal(err)
		}
		err = checkNewInit(l)
		l.Close()
		if tc.wantErr == "" && err != nil || tc.wantErr != "" &&
			(err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: checkNewInit() = %v, want error %q", tc.name, err, tc.wantErr)
		}
	}
}
