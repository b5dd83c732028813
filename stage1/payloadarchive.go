package stage1

import (
	"fmt"
	"io"
	"os"

	"github.com/takeover-dev/takeover/exitcode"
	"github.com/takeover-dev/takeover/initramfs"
	"github.com/takeover-dev/takeover/plan"
)

// payloadArchive is a payload archive given to `takeover boot`, read once.
type payloadArchive struct {
	path string
	plan *plan.Payload
	f    *os.File
	size int64
}

// openPayload reads a payload archive's plan and checks that this build of
// takeover wrote it: its /init will read the device plan this build writes.
func openPayload(path string) (*payloadArchive, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, exitcode.With(exitcode.Usage, fmt.Errorf("opening payload archive: %w", err))
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, exitcode.With(exitcode.Initramfs, fmt.Errorf("reading %s: %w", path, err))
	}
	l, err := initramfs.Inspect(f, st.Size())
	if err != nil {
		f.Close()
		return nil, exitcode.With(exitcode.Initramfs, fmt.Errorf("reading payload archive %s: %w", path, err))
	}
	if l.Payload == nil {
		f.Close()
		return nil, exitcode.With(exitcode.Initramfs,
			fmt.Errorf("%s holds no payload plan: build it with takeover build-initrd", path))
	}
	if l.Payload.CreatedBy != ToolVersion {
		f.Close()
		return nil, exitcode.With(exitcode.Initramfs, fmt.Errorf(
			"%s was built by %q, this is %q: build the payload with the same takeover that boots it",
			path, l.Payload.CreatedBy, ToolVersion))
	}
	return &payloadArchive{path: path, plan: l.Payload, f: f, size: st.Size()}, nil
}

// read returns one file of the archive.
func (p *payloadArchive) read(name string) ([]byte, error) {
	r, err := initramfs.Extract(p.f, p.size, name)
	if err == nil {
		var data []byte
		if data, err = io.ReadAll(r); err == nil {
			return data, nil
		}
	}
	return nil, exitcode.With(exitcode.Initramfs, fmt.Errorf("reading %s from %s: %w", name, p.path, err))
}

func (p *payloadArchive) Close() error { return p.f.Close() }
