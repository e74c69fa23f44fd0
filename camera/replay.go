package camera

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"checkpoint"
)

// ReplayOptions tune a replay source.
type ReplayOptions struct {
	// FPS is the rate frames are released at, as a camera would. Frames the
	// consumer does not take in time are dropped and counted. Zero or below:
	// each Next returns the next frame at once, and none is dropped.
	FPS float64
	// Loop starts over after the last frame; otherwise Next returns io.EOF
	// after one pass.
	Loop bool
	// Tick, when set, releases one frame per value received instead of the
	// FPS ticker, so tests decide when frames arrive.
	Tick <-chan time.Time
	// Now stamps each frame's capture time; nil means time.Now.
	Now func() time.Time
	// Logger hears of image files skipped because they cannot be read
	// (nil: discard).
	Logger *slog.Logger
}

// Replay is a Source that plays image files as camera frames. Every file is
// converted once to a gray plane when the source is created; the planes are
// shared by the frames Next returns and must not be modified.
type Replay struct {
	planes []*checkpoint.Frame
	names  []string
	opts   ReplayOptions

	once   sync.Once
	mbox   *Mailbox
	cancel context.CancelFunc
	done   chan struct{}

	// pull mode (no pacing)
	mu     sync.Mutex
	i      int
	cur    checkpoint.Frame
	seq    uint64
	last   time.Time
	closed bool
	fps    rate
}

var _ checkpoint.Source = (*Replay)(nil)

// imageExt are the file name extensions a replay directory is searched for.
var imageExt = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".webp": true, ".pgm": true}

// ListImages expands paths into image files: a file is taken as it is, a
// directory contributes its PNG, JPEG, WebP and PGM files (recursively, sorted by
// path). The order of paths is kept.
func ListImages(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("list images %s: %w", p, err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && imageExt[strings.ToLower(filepath.Ext(q))] {
				found = append(found, q)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list images %s: %w", p, err)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("list images %s: no PNG, JPEG, WebP or PGM files in the directory", p)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// NewReplay loads the image files named by paths (files or directories, see
// ListImages) and returns a source that plays them.
func NewReplay(paths []string, opts ReplayOptions) (*Replay, error) {
	if len(paths) == 0 {
		return nil, errors.New("replay: no image files or directories given")
	}
	files, err := ListImages(paths)
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Replay{opts: opts, mbox: NewMailbox(), done: make(chan struct{})}
	var firstErr error
	for _, name := range files {
		f, err := LoadFile(name)
		if err != nil {
			// One bad file in a folder does not stop the camera.
			opts.Logger.Warn("replay: image skipped", "err", err)
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		r.planes = append(r.planes, f)
		r.names = append(r.names, name)
	}
	if len(r.planes) == 0 {
		return nil, fmt.Errorf("replay: no readable image: %w", firstErr)
	}
	if r.opts.Now == nil {
		r.opts.Now = time.Now
	}
	return r, nil
}

// NewReplayFrames returns a replay source over frames already in memory
// (their planes are shared, not copied).
func NewReplayFrames(frames []*checkpoint.Frame, opts ReplayOptions) (*Replay, error) {
	if len(frames) == 0 {
		return nil, errors.New("replay: no frames")
	}
	for i, f := range frames {
		if f == nil || f.Width <= 0 || f.Height <= 0 || f.Stride < f.Width || len(f.Y) < f.Stride*(f.Height-1)+f.Width {
			return nil, fmt.Errorf("replay: frame %d has an inconsistent size", i)
		}
	}
	r := &Replay{opts: opts, planes: frames, mbox: NewMailbox(), done: make(chan struct{})}
	if r.opts.Now == nil {
		r.opts.Now = time.Now
	}
	return r, nil
}

// Files returns the image files of the replay, in playing order.
func (r *Replay) Files() []string { return r.names }

// Len returns the number of frames in one pass.
func (r *Replay) Len() int { return len(r.planes) }

func (r *Replay) paced() bool { return r.opts.FPS > 0 || r.opts.Tick != nil }

// Next returns the next frame (see ReplayOptions for pacing), or io.EOF
// after the last one when not looping.
func (r *Replay) Next(ctx context.Context) (*checkpoint.Frame, error) {
	if !r.paced() {
		return r.pull(ctx)
	}
	r.once.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		r.mu.Lock()
		closed := r.closed
		r.cancel = cancel
		r.mu.Unlock()
		if closed {
			cancel()
			close(r.done)
			return
		}
		go r.produce(ctx)
	})
	return r.mbox.Next(ctx)
}

func (r *Replay) pull(ctx context.Context) (*checkpoint.Frame, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if r.i == len(r.planes) {
		if !r.opts.Loop {
			return nil, io.EOF
		}
		r.i = 0
	}
	p := r.planes[r.i]
	r.i++
	r.seq++
	r.cur = checkpoint.Frame{Seq: r.seq, Time: r.opts.Now(), Width: p.Width, Height: p.Height, Stride: p.Stride, Y: p.Y}
	r.last = r.cur.Time
	r.fps.add(r.last)
	return &r.cur, nil
}

// produce releases frames into the mailbox at the configured pace.
func (r *Replay) produce(ctx context.Context) {
	defer close(r.done)
	tick := r.opts.Tick
	if tick == nil {
		t := time.NewTicker(time.Duration(float64(time.Second) / r.opts.FPS))
		defer t.Stop()
		tick = t.C
	}
	for i := 0; ; i++ {
		if i == len(r.planes) {
			if !r.opts.Loop {
				r.mbox.CloseWith(io.EOF)
				return
			}
			i = 0
		}
		select {
		case <-ctx.Done():
			return
		case _, ok := <-tick:
			if !ok {
				r.mbox.CloseWith(io.EOF)
				return
			}
		}
		p := r.planes[i]
		f := r.mbox.Slot()
		f.Width, f.Height, f.Stride = p.Width, p.Height, p.Stride
		f.Y = p.Y // borrowed, read-only
		r.mbox.Publish(r.opts.Now())
	}
}

// Stats reports frames released and dropped.
func (r *Replay) Stats() checkpoint.SourceStats {
	if r.paced() {
		return r.mbox.Stats()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return checkpoint.SourceStats{Frames: r.seq, LastFrame: r.last, Width: r.cur.Width, Height: r.cur.Height, FPS: r.fps.value()}
}

// Close stops the source; Next then returns ErrClosed.
func (r *Replay) Close() error {
	r.mu.Lock()
	r.closed = true
	cancel := r.cancel
	r.mu.Unlock()
	if cancel != nil {
		cancel()
		<-r.done
	}
	r.mbox.CloseWith(ErrClosed)
	return nil
}
