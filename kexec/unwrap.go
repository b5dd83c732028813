package kexec

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
)

// Unwrap returns the path of a plain kernel image: arm64 kexec_file_load
// takes only a plain Image, so a gzip-compressed image (Ubuntu's vmlinuz) or
// an EFI zboot image (Debian's arm64 vmlinuz) is decompressed into a new file
// in dir, which the caller removes. Any other image is returned as it is,
// with unwrapped false. Load calls it when the kernel refuses an image.
func Unwrap(kernelPath, dir string) (path string, unwrapped bool, err error) {
	f, err := os.Open(kernelPath)
	if err != nil {
		return "", false, fmt.Errorf("opening kernel image: %w", err)
	}
	defer f.Close()
	head := make([]byte, headerLen)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("reading header of %s: %w", kernelPath, err)
	}
	head = head[:n]

	var r io.Reader
	switch detect(head) {
	case formatGzip:
		zr, err := gzip.NewReader(f)
		if err != nil {
			return "", false, fmt.Errorf("opening gzip stream of %s: %w", kernelPath, err)
		}
		defer zr.Close()
		zr.Multistream(false)
		r = zr
	case formatZboot:
		zr, closer, err := zbootPayload(f, head)
		if err != nil {
			return "", false, fmt.Errorf("unwrapping %s: %w", kernelPath, err)
		}
		defer closer()
		r = zr
	default:
		return kernelPath, false, nil
	}

	out, err := writeUnwrapped(r, dir)
	if err != nil {
		return "", false, fmt.Errorf("unwrapping %s: %w", kernelPath, err)
	}
	return out, true, nil
}

// writeUnwrapped copies the decompressed image into a new file in dir and
// checks that it is a whole image of bounded size.
func writeUnwrapped(r io.Reader, dir string) (string, error) {
	out, err := os.CreateTemp(dir, "takeover-kernel-*.img")
	if err != nil {
		return "", fmt.Errorf("creating file for the plain image: %w", err)
	}
	n, err := io.Copy(out, io.LimitReader(r, maxUnpacked+1))
	if err == nil && n > maxUnpacked {
		err = fmt.Errorf("image inflates past %d bytes", maxUnpacked)
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out.Name())
		return "", fmt.Errorf("writing %s: %w", out.Name(), err)
	}
	return out.Name(), nil
}
