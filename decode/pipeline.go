package decode

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"checkpoint"
)

// Pipeline decodes the frames of a source on several workers while the
// consumer handles earlier ones, and hands the frames on in their order
// with their codes already decoded. It is both the checkpoint.Source and
// the checkpoint.Decoder of a Scanner:
//
//	p := dec.Pipeline(ctx, camera)
//	defer p.Close()
//	s := &checkpoint.Scanner{Source: p, Decoder: p, ...}
//
// Frames are copied into buffers the pipeline owns (Workers+2 of them,
// reused), so the source may reuse its own as soon as Next returns.
type Pipeline struct {
	d   *Decoder
	src checkpoint.Source

	ctx    context.Context
	cancel context.CancelFunc
	work   chan *job     // to the workers
	order  chan *job     // to Next, in frame order
	free   chan *job     // jobs whose frames the consumer has released
	done   chan struct{} // closed when the reader and the workers have ended
	err    error         // why the reader stopped (io.EOF, ctx, source failure)

	cur *job // the frame Next returned last
}

var (
	_ checkpoint.Source  = (*Pipeline)(nil)
	_ checkpoint.Decoder = (*Pipeline)(nil)
)

// job is one frame on its way through the pipeline.
type job struct {
	frame   checkpoint.Frame
	syms    []checkpoint.Symbol
	err     error
	elapsed time.Duration
	ready   chan struct{} // one token once decoded
}

var _ checkpoint.DecodeTimer = (*Pipeline)(nil)

// Pipeline starts decoding src's frames on the Decoder's Workers goroutines
// until ctx is done, the source ends, or Close is called.
func (d *Decoder) Pipeline(ctx context.Context, src checkpoint.Source) *Pipeline {
	n := d.opts.Workers
	ctx, cancel := context.WithCancel(ctx)
	p := &Pipeline{
		d: d, src: src, ctx: ctx, cancel: cancel,
		work:  make(chan *job, n),
		order: make(chan *job, n+1),
		free:  make(chan *job, n+2),
		done:  make(chan struct{}),
	}
	for i := 0; i < n+2; i++ {
		p.free <- &job{ready: make(chan struct{}, 1)}
	}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range p.work {
				t0 := time.Now()
				j.syms, j.err = d.Decode(ctx, &j.frame)
				j.elapsed = time.Since(t0)
				j.ready <- struct{}{}
			}
		}()
	}
	go func() {
		p.err = p.read()
		close(p.work)
		close(p.order)
		wg.Wait()
		close(p.done)
	}()
	return p
}

// read takes frames from the source, copies each into a free job and hands
// it to the workers and, in order, to Next.
func (p *Pipeline) read() error {
	for {
		var j *job
		select {
		case j = <-p.free:
		case <-p.ctx.Done():
			return p.ctx.Err()
		}
		f, err := p.src.Next(p.ctx)
		if err != nil {
			return err
		}
		copyFrame(&j.frame, f)
		select {
		case p.order <- j:
		case <-p.ctx.Done():
			return p.ctx.Err()
		}
		p.work <- j
	}
}

// copyFrame copies src into dst, reusing dst's buffer, with the stride
// equal to the width.
func copyFrame(dst, src *checkpoint.Frame) {
	w, h := src.Width, src.Height
	if w <= 0 || h <= 0 || src.Stride < w || len(src.Y) < src.Stride*(h-1)+w {
		// Keep the bad geometry: Decode reports it.
		buf := append(dst.Y[:0], src.Y...)
		*dst = *src
		dst.Y = buf
		return
	}
	buf := dst.Y
	if cap(buf) < w*h {
		buf = make([]byte, w*h)
	}
	buf = buf[:w*h]
	for y := 0; y < h; y++ {
		copy(buf[y*w:(y+1)*w], src.Y[y*src.Stride:y*src.Stride+w])
	}
	*dst = *src
	dst.Stride = w
	dst.Y = buf
}

// Next returns the next frame, in source order, once it is decoded. The
// frame stays valid until the next call to Next. It returns the source's
// error (io.EOF at its end) after the last frame.
func (p *Pipeline) Next(ctx context.Context) (*checkpoint.Frame, error) {
	if p.cur != nil {
		p.free <- p.cur
		p.cur = nil
	}
	var j *job
	var ok bool
	select {
	case j, ok = <-p.order:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if !ok {
		<-p.done
		if p.err == nil {
			return nil, errors.New("decode pipeline: closed")
		}
		return nil, p.err
	}
	select {
	case <-j.ready:
	case <-ctx.Done():
		// The worker still owns the job; it is not reused.
		return nil, ctx.Err()
	}
	p.cur = j
	return &j.frame, nil
}

// Decode returns the codes of f. For the frame Next returned last it gives
// the result decoded ahead; any other frame is decoded now.
func (p *Pipeline) Decode(ctx context.Context, f *checkpoint.Frame) ([]checkpoint.Symbol, error) {
	if j := p.cur; j != nil && f == &j.frame {
		return j.syms, j.err
	}
	return p.d.Decode(ctx, f)
}

// Elapsed reports how long the frame Next returned last took to decode on
// its worker (checkpoint.DecodeTimer).
func (p *Pipeline) Elapsed(f *checkpoint.Frame) (time.Duration, bool) {
	if j := p.cur; j != nil && f == &j.frame {
		return j.elapsed, true
	}
	return 0, false
}

// Stats reports the source's counters.
func (p *Pipeline) Stats() checkpoint.SourceStats { return p.src.Stats() }

// Close stops the pipeline and closes the source.
func (p *Pipeline) Close() error {
	p.cancel()
	// Unblock the reader if it waits to hand on a frame.
	go func() {
		for range p.order {
		}
	}()
	<-p.done
	if err := p.src.Close(); err != nil {
		return fmt.Errorf("close source: %w", err)
	}
	return nil
}
