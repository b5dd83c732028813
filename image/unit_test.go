package image

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name   string
		header []byte
		want   Format
	}{
		{name: "gzip", header: []byte{0x1f, 0x8b, 8, 0}, want: Gzip},
		{name: "zip", header: []byte("PK\x03\x04rest"), want: Zip},
		{name: "empty zip", header: []byte("PK\x05\x06"), want: Zip},
		{name: "xz", header: []byte{0xfd, '7', 'z', 'X', 'Z', 0, 0, 4}, want: XZ},
		{name: "zstd", header: []byte{0x28, 0xb5, 0x2f, 0xfd, 0x24}, want: Zstd},
		{name: "mbr", header: []byte{0xeb, 0x63, 0x90, 0x10}, want: Raw},
		{name: "short", header: []byte{0x1f}, want: Raw},
		{name: "nothing", header: nil, want: Raw},
	}
	for _, tt := range tests {
		if got := Detect(tt.header); got != tt.want {
			t.Errorf("Detect(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestOpenRawTruncatedGzipFails(t *testing.T) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	data := bytes.Repeat([]byte("balena "), 100000)
	zw.Write(data)
	zw.Close()
	dir := t.TempDir()
	whole, cut := filepath.Join(dir, "whole.gz"), filepath.Join(dir, "cut.gz")
	os.WriteFile(whole, b.Bytes(), 0o644)
	os.WriteFile(cut, b.Bytes()[:b.Len()-6], 0o644) // loses part of the CRC and size trailer

	got, err := readAll(whole)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("OpenRaw(whole) read %d bytes, %v, want %d, nil", len(got), err, len(data))
	}
	if _, err := readAll(cut); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("OpenRaw(cut) read error = %v, want a non-EOF error", err)
	}
}

func readAll(path string) ([]byte, error) {
	rc, err := OpenRaw(path, Gzip)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestWindowServesForwardReads(t *testing.T) {
	stream := make([]byte, 10000)
	for i := range stream {
		stream[i] = byte(i % 251)
	}
	reads := []struct{ off, n int }{{0, 10}, {5, 20}, {990, 30}, {4000, 3000}, {9990, 10}}
	w := newWindow()
	var got [][]byte
	var errs []error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer w.close()
		for _, r := range reads {
			p := make([]byte, r.n)
			n, err := w.ReadAt(p, int64(r.off))
			got, errs = append(got, p[:n]), append(errs, err)
		}
		_, err := w.ReadAt(make([]byte, 1), 100) // behind the stream by now
		errs = append(errs, err)
	}()
	for off := 0; off < len(stream); off += 1000 {
		w.feed(stream[off : off+1000])
	}
	w.end()
	wg.Wait()
	for i, r := range reads {
		if errs[i] != nil || !bytes.Equal(got[i], stream[r.off:r.off+r.n]) {
			t.Errorf("ReadAt(%d bytes at %d) = %d bytes, %v, want the stream's bytes",
				r.n, r.off, len(got[i]), errs[i])
		}
	}
	if err := errs[len(reads)]; !errors.Is(err, errPassed) {
		t.Errorf("ReadAt behind the stream error = %v, want %v", err, errPassed)
	}
}

func TestWindowEOF(t *testing.T) {
	w := newWindow()
	done := make(chan struct{})
	var n int
	var err error
	go func() {
		defer close(done)
		defer w.close()
		n, err = w.ReadAt(make([]byte, 100), 50)
	}()
	w.feed(make([]byte, 80))
	w.end()
	<-done
	if n != 30 || !errors.Is(err, io.EOF) {
		t.Errorf("ReadAt(100 at 50) over 80 bytes = %d, %v, want 30, EOF", n, err)
	}
}
