package image

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/klauspost/compress/flate"
	"golang.org/x/sync/errgroup"

	"github.com/takeover-dev/takeover/progress"
)

// Buffers moving through the pipeline: large, and a few in flight per
// stage so that reading, decompressing and hashing overlap.
const (
	bufSize  = 1 << 20
	inFlight = 4
)

// digests is what one pass over an image learns.
type digests struct {
	size, rawSize int64
	sha, rawSHA   string
}

// buf is a pooled buffer shared by refs consumers.
type buf struct {
	b    []byte
	refs atomic.Int32
	pool chan *buf
}

func (b *buf) release() {
	if b.refs.Add(-1) == 0 {
		b.b = b.b[:cap(b.b)]
		b.pool <- b
	}
}

func newPool() chan *buf {
	pool := make(chan *buf, inFlight)
	for range inFlight {
		pool <- &buf{b: make([]byte, bufSize), pool: pool}
	}
	return pool
}

// pass is one decompression pass over an image file: one goroutine reads
// the file, one hashes the compressed bytes, one decompresses, and one
// hashes the raw bytes and shows them to sink. For Raw files the raw hash
// is the file hash; Zip archives are hashed and decompressed from two
// independent reads of the file, as zip needs random access.
type pass struct {
	path    string
	format  Format
	sink    func([]byte) error // sees every raw byte in order
	counter *progress.Counter  // counts compressed bytes read
}

func (p *pass) run(ctx context.Context) (digests, error) {
	g, ctx := errgroup.WithContext(ctx)
	var d digests
	raw := make(chan *buf, inFlight)
	rawPool := newPool()
	switch p.format {
	case Raw:
		g.Go(func() error { return p.readFile(ctx, rawPool, raw) })
	case Zip:
		g.Go(func() error { return p.hashFile(ctx, &d) })
		g.Go(func() error { return p.unzip(ctx, rawPool, raw) })
	default:
		comp := make(chan *buf, inFlight)
		toHash := make(chan *buf, inFlight)
		g.Go(func() error { return p.readFile(ctx, newPool(), comp, toHash) })
		g.Go(func() error { return hashBufs(ctx, toHash, &d.sha, &d.size) })
		g.Go(func() error { return p.decompress(ctx, comp, rawPool, raw) })
	}
	g.Go(func() error { return p.consumeRaw(ctx, raw, &d) })
	if err := g.Wait(); err != nil {
		return digests{}, err
	}
	if p.format == Raw {
		d.sha, d.size = d.rawSHA, d.rawSize
	}
	return d, nil
}

// readFile reads the file into pooled buffers and hands each to every
// channel in outs, closing them at the end.
func (p *pass) readFile(ctx context.Context, pool chan *buf, outs ...chan *buf) error {
	defer closeAll(outs)
	f, err := os.Open(p.path)
	if err != nil {
		return fmt.Errorf("opening image: %w", err)
	}
	defer f.Close()
	for {
		b, err := take(ctx, pool)
		if err != nil {
			return err
		}
		n, rerr := io.ReadFull(f, b.b)
		b.b = b.b[:n]
		p.counter.Add(n)
		if n > 0 {
			if err := send(ctx, b, outs); err != nil {
				return err
			}
		} else {
			pool <- b
		}
		switch {
		case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
			return nil // the file's end; io.ReadFull over an *os.File
		case rerr != nil:
			return fmt.Errorf("reading image: %w", rerr)
		}
	}
}

func closeAll(chs []chan *buf) {
	for _, c := range chs {
		close(c)
	}
}

func take(ctx context.Context, pool chan *buf) (*buf, error) {
	select {
	case b := <-pool:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func send(ctx context.Context, b *buf, outs []chan *buf) error {
	b.refs.Store(int32(len(outs)))
	for _, c := range outs {
		select {
		case c <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// hashBufs hashes every buffer from in.
func hashBufs(ctx context.Context, in chan *buf, sum *string, size *int64) error {
	h := sha256.New()
	for b := range in {
		h.Write(b.b)
		*size += int64(len(b.b))
		b.release()
	}
	*sum = hex.EncodeToString(h.Sum(nil))
	return ctx.Err()
}

// hashFile hashes the file with its own reads (zip archives).
func (p *pass) hashFile(ctx context.Context, d *digests) error {
	f, err := os.Open(p.path)
	if err != nil {
		return fmt.Errorf("opening image: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, ctxReader{ctx, f}, make([]byte, bufSize))
	if err != nil {
		return fmt.Errorf("hashing image: %w", err)
	}
	d.size, d.sha = n, hex.EncodeToString(h.Sum(nil))
	return nil
}

// decompress decodes the compressed buffers into raw buffers.
func (p *pass) decompress(ctx context.Context, comp, pool, raw chan *buf) error {
	defer close(raw)
	defer drain(comp)
	dec, err := decompressor(&chanReader{ctx: ctx, in: comp}, p.format)
	if err != nil {
		return fmt.Errorf("decompressing %s image: %w", p.format, err)
	}
	defer dec.Close()
	return fill(ctx, dec, pool, raw, p.format)
}

// unzip decodes the one file of a zip archive into raw buffers.
func (p *pass) unzip(ctx context.Context, pool, raw chan *buf) error {
	defer close(raw)
	zr, err := zip.OpenReader(p.path)
	if err != nil {
		return fmt.Errorf("opening zip archive: %w", err)
	}
	defer zr.Close()
	zr.RegisterDecompressor(zip.Deflate, flate.NewReader)
	entry, err := onlyFile(&zr.Reader)
	if err != nil {
		return err
	}
	rc, err := entry.Open()
	if err != nil {
		return fmt.Errorf("opening %s in zip archive: %w", entry.Name, err)
	}
	defer rc.Close()
	return fill(ctx, rc, pool, raw, Zip)
}

// fill reads r to its end into pooled buffers sent to raw. Only io.EOF is
// the end: a decoder's io.ErrUnexpectedEOF is a truncated file.
func fill(ctx context.Context, r io.Reader, pool, raw chan *buf, f Format) error {
	for {
		b, err := take(ctx, pool)
		if err != nil {
			return err
		}
		n, rerr := readFull(r, b.b)
		b.b = b.b[:n]
		if n > 0 {
			if err := send(ctx, b, []chan *buf{raw}); err != nil {
				return err
			}
		} else {
			pool <- b
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("decompressing %s image: %w", f, rerr)
		}
	}
}

// readFull fills p unless r ends or fails first; unlike io.ReadFull it
// passes r's error through unchanged.
func readFull(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func drain(in chan *buf) {
	for b := range in {
		b.release()
	}
}

// consumeRaw hashes the raw stream and shows it to the sink.
func (p *pass) consumeRaw(ctx context.Context, raw chan *buf, d *digests) error {
	h := sha256.New()
	var n int64
	for b := range raw {
		h.Write(b.b)
		n += int64(len(b.b))
		err := p.sink(b.b)
		b.release()
		if err != nil {
			return err // the group's context stops the other stages
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.rawSize, d.rawSHA = n, hex.EncodeToString(h.Sum(nil))
	return nil
}

// chanReader reads the buffers of a channel as one stream.
type chanReader struct {
	ctx context.Context
	in  chan *buf
	cur *buf
	off int
}

func (c *chanReader) Read(p []byte) (int, error) {
	for c.cur == nil || c.off == len(c.cur.b) {
		if c.cur != nil {
			c.cur.release()
			c.cur = nil
		}
		select {
		case b, ok := <-c.in:
			if !ok {
				return 0, io.EOF
			}
			c.cur, c.off = b, 0
		case <-c.ctx.Done():
			return 0, c.ctx.Err()
		}
	}
	n := copy(p, c.cur.b[c.off:])
	c.off += n
	return n, nil
}

// ctxReader stops reading when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
