package camera

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"checkpoint"
	"checkpoint/internal/backoff"
)

// RPiCamOptions configure the rpicam source.
type RPiCamOptions struct {
	Command string   // the rpicam-vid binary, looked up on PATH when it has no slash
	Args    []string // all arguments; see RPiCamArgs
	Width   int      // frame size the arguments ask for
	Height  int
	// StallTimeout: when no whole frame arrives for this long, the child is
	// stopped and started again (0: 10s).
	StallTimeout time.Duration
	// Backoff is the first pause before a restart, doubled after each
	// restart that brought no frame, up to MaxBackoff (0: 500ms and 30s).
	Backoff    time.Duration
	MaxBackoff time.Duration
	// KillGrace is how long the child has to exit after SIGTERM before its
	// process group gets SIGKILL (0: 3s).
	KillGrace time.Duration
	// StderrBurst lines of the child's stderr are logged at once, then one
	// line per StderrEvery (0: 20 lines, 10s); the rest are counted.
	StderrBurst int
	StderrEvery time.Duration
	Logger      *slog.Logger
	Now         func() time.Time // frame capture times; nil: time.Now
}

// RPiCam is a Source reading a Raspberry Pi camera through rpicam-vid as a
// child process writing raw planar YUV420 frames to its standard output.
// Only the Y plane of each frame is kept.
type RPiCam struct {
	opts   RPiCamOptions
	path   string
	stride int
	mbox   *Mailbox

	restarts atomic.Uint64
	pid      atomic.Int64

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

var _ checkpoint.Source = (*RPiCam)(nil)

// Stride returns the Y row stride rpicam-vid uses for a frame width: rows
// are padded to a multiple of 64 bytes.
func Stride(width int) int { return (width + 63) &^ 63 }

// YUV420Size returns the bytes of one rpicam-vid YUV420 frame: the Y plane
// (Stride(width) x height) and two chroma planes of half the stride and half
// the rows.
func YUV420Size(width, height int) int {
	s := Stride(width)
	return s*height + 2*(s/2)*((height+1)/2)
}

// RPiCamSettings are what RPiCamArgs asks of rpicam-vid.
type RPiCamSettings struct {
	Width, Height int
	FPS           float64
	Exposure      string        // normal, sport or long; "": the camera's default
	Shutter       time.Duration // 0: automatic
	Gain          float64       // analogue gain; 0: automatic
	Focus         string        // auto, continuous or manual; "": the camera's default
	LensPosition  float64       // dioptres (0: infinity), with Focus "manual"
	Extra         []string      // more arguments, passed as they are
}

// DefaultRPiCamSettings is 1280x720 at 15 fps with the camera's own
// exposure and focus.
func DefaultRPiCamSettings() RPiCamSettings { return RPiCamSettings{Width: 1280, Height: 720, FPS: 15} }

// RPiCamArgs returns the rpicam-vid arguments for the settings: endless
// (-t 0), no preview (-n), raw YUV420 on standard output, the size and frame
// rate, then exposure, shutter, gain and focus when set, then the extra
// arguments. Values rpicam-vid cannot take are errors naming the setting.
func RPiCamArgs(cfg RPiCamSettings) ([]string, error) {
	fps := strconv.FormatFloat(cfg.FPS, 'f', -1, 64)
	args := []string{"-t", "0", "-n", "--codec", "yuv420",
		"--width", strconv.Itoa(cfg.Width), "--height", strconv.Itoa(cfg.Height), "--framerate", fps}
	switch cfg.Exposure {
	case "":
	case "normal", "sport", "long":
		args = append(args, "--exposure", cfg.Exposure)
	default:
		return nil, fmt.Errorf("camera.exposure: %q is not normal, sport or long", cfg.Exposure)
	}
	if d := cfg.Shutter; d < 0 {
		return nil, errors.New("camera.shutter: must not be negative")
	} else if d > 0 {
		args = append(args, "--shutter", strconv.FormatInt(d.Microseconds(), 10))
	}
	if cfg.Gain < 0 {
		return nil, errors.New("camera.gain: must not be negative")
	} else if cfg.Gain > 0 {
		args = append(args, "--gain", strconv.FormatFloat(cfg.Gain, 'f', -1, 64))
	}
	switch cfg.Focus {
	case "":
	case "auto", "continuous":
		args = append(args, "--autofocus-mode", cfg.Focus)
	case "manual":
		if cfg.LensPosition < 0 {
			return nil, errors.New("camera.lens_position: must not be negative (0 is infinity, in dioptres)")
		}
		args = append(args, "--autofocus-mode", "manual",
			"--lens-position", strconv.FormatFloat(cfg.LensPosition, 'f', -1, 64))
	default:
		return nil, fmt.Errorf("camera.focus: %q is not auto, continuous or manual", cfg.Focus)
	}
	args = append(args, cfg.Extra...)
	return append(args, "-o", "-"), nil
}

// NewRPiCam starts rpicam-vid and returns the source reading it. The
// command must exist; a child that exits or stalls later is restarted.
func NewRPiCam(opts RPiCamOptions) (*RPiCam, error) {
	if opts.Command == "" {
		opts.Command = "rpicam-vid"
	}
	if opts.Width <= 0 || opts.Height <= 0 {
		return nil, fmt.Errorf("camera: rpicam frame size %dx%d is not positive", opts.Width, opts.Height)
	}
	path, err := exec.LookPath(opts.Command)
	if err != nil {
		return nil, fmt.Errorf("camera: %s: %w (install rpicam-apps, or set camera.command)", opts.Command, err)
	}
	if opts.StallTimeout <= 0 {
		opts.StallTimeout = 10 * time.Second
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff < opts.Backoff {
		opts.MaxBackoff = max(30*time.Second, opts.Backoff)
	}
	if opts.KillGrace <= 0 {
		opts.KillGrace = 3 * time.Second
	}
	if opts.StderrBurst <= 0 {
		opts.StderrBurst = 20
	}
	if opts.StderrEvery <= 0 {
		opts.StderrEvery = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &RPiCam{opts: opts, path: path, stride: Stride(opts.Width), mbox: NewMailbox(), cancel: cancel, done: make(chan struct{})}
	go c.supervise(ctx)
	return c, nil
}

// Next returns the newest frame.
func (c *RPiCam) Next(ctx context.Context) (*checkpoint.Frame, error) { return c.mbox.Next(ctx) }

// Stats reports frames, drops, restarts and the last frame's time.
func (c *RPiCam) Stats() checkpoint.SourceStats {
	st := c.mbox.Stats()
	st.Restarts = c.restarts.Load()
	return st
}

// Pid returns the process ID of the running child, 0 when none runs.
func (c *RPiCam) Pid() int { return int(c.pid.Load()) }

// Close stops the child (SIGTERM to its process group, SIGKILL after the
// grace period) and waits until it has exited; Next then returns ErrClosed.
func (c *RPiCam) Close() error {
	c.once.Do(func() {
		c.cancel()
		<-c.done
		c.mbox.CloseWith(ErrClosed)
	})
	return nil
}

// supervise runs the child again and again until the source closes.
func (c *RPiCam) supervise(ctx context.Context) {
	defer close(c.done)
	log := c.opts.Logger
	idle := 0 // children in a row that ended without a frame
	for n := 0; ; n++ {
		if n > 0 {
			c.restarts.Add(1)
		}
		frames, reason, err := c.runChild(ctx)
		if ctx.Err() != nil {
			return
		}
		if frames > 0 {
			idle = 0
		}
		wait := backoff.Exponential(c.opts.Backoff, c.opts.MaxBackoff, idle+1)
		log.Warn("camera process ended; restarting", "command", c.opts.Command, "reason", reason,
			"err", err, "frames", frames, "backoff", wait)
		if !backoff.Wait(ctx, wait) {
			return
		}
		if frames == 0 {
			idle++
		}
	}
}

// runChild starts one rpicam-vid and reads its frames until it exits,
// stalls, sends a short frame, or ctx is done. It returns once the child's
// whole process group is gone.
func (c *RPiCam) runChild(ctx context.Context) (frames uint64, reason string, err error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, "pipe", err
	}
	er, ew, err := os.Pipe()
	if err != nil {
		pr.Close()
		pw.Close()
		return 0, "pipe", err
	}
	cmd := exec.Command(c.path, c.opts.Args...)
	cmd.Stdout = pw
	cmd.Stderr = ew
	// Its own process group, so shutdown reaches helpers it starts too;
	// Pdeathsig kills it should the daemon itself be killed with SIGKILL.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	pw.Close()
	ew.Close()
	if err != nil {
		pr.Close()
		er.Close()
		return 0, "start", err
	}
	pid := cmd.Process.Pid
	c.pid.Store(int64(pid))
	defer c.pid.Store(0)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var stderrDone sync.WaitGroup
	stderrDone.Add(1)
	go func() {
		defer stderrDone.Done()
		c.logStderr(er)
	}()

	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	var count atomic.Uint64
	readerDone := make(chan error, 1)
	go func() { readerDone <- c.read(pr, &last, &count) }()

	check := min(c.opts.StallTimeout/4, time.Second)
	tick := time.NewTicker(check)
	defer tick.Stop()
	var exitErr error
	exitedAlready := false
	for reason == "" {
		select {
		case exitErr = <-exited:
			exitedAlready = true
			reason = "exited"
		case <-ctx.Done():
			reason = "shutdown"
		case err = <-readerDone:
			reason = "output ended"
			readerDone <- err // keep it for the wait below
		case <-tick.C:
			if time.Since(time.Unix(0, last.Load())) > c.opts.StallTimeout {
				reason = "stalled"
			}
		}
	}
	if !exitedAlready {
		exitErr = c.terminate(pid, exited)
	}
	// Whatever is left of the group (helpers the child started) goes too.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	// With every writer gone the reader sees the end of the pipe; a writer
	// outside the group cannot hold it open for long.
	select {
	case err = <-readerDone:
	case <-time.After(time.Second):
		pr.Close()
		err = <-readerDone
	}
	pr.Close()
	stderrDone.Wait()
	er.Close()
	if reason == "exited" || exitErr != nil {
		err = exitErr
	}
	return count.Load(), reason, err
}

// terminate sends SIGTERM to the child's process group, then SIGKILL after
// the grace period, and returns the child's exit status.
func (c *RPiCam) terminate(pid int, exited <-chan error) error {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	t := time.NewTimer(c.opts.KillGrace)
	defer t.Stop()
	select {
	case err := <-exited:
		return err
	case <-t.C:
		c.opts.Logger.Warn("camera process ignored SIGTERM; killing it", "command", c.opts.Command, "grace", c.opts.KillGrace)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		return <-exited
	}
}

// read reads whole frames, keeping the Y plane of each and skipping its
// chroma planes.
func (c *RPiCam) read(r io.Reader, last *atomic.Int64, count *atomic.Uint64) error {
	w, h, stride := c.opts.Width, c.opts.Height, c.stride
	chroma := make([]byte, YUV420Size(w, h)-stride*h)
	for {
		f := c.mbox.Buffer(w, h, stride)
		if _, err := io.ReadFull(r, f.Y); err != nil {
			return frameErr(err)
		}
		if _, err := io.ReadFull(r, chroma); err != nil {
			return frameErr(err)
		}
		now := c.opts.Now()
		last.Store(time.Now().UnixNano())
		count.Add(1)
		c.mbox.Publish(now)
	}
}

func frameErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("output ended within a frame")
	}
	return err
}

// logStderr logs the child's stderr lines, a burst at once and then at
// most one line per StderrEvery, counting the lines it leaves out.
func (c *RPiCam) logStderr(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 4096)
	tokens := c.opts.StderrBurst
	refill := time.Now()
	suppressed := 0
	for {
		if !sc.Scan() {
			if errors.Is(sc.Err(), bufio.ErrTooLong) {
				sc = bufio.NewScanner(r) // skip the long line's rest as new lines
				sc.Buffer(make([]byte, 4096), 4096)
				continue
			}
			break
		}
		if time.Since(refill) >= c.opts.StderrEvery {
			tokens = max(tokens, 1)
			refill = time.Now()
		}
		if tokens == 0 {
			suppressed++
			continue
		}
		tokens--
		if suppressed > 0 {
			c.opts.Logger.Info("camera stderr", "command", c.opts.Command, "line", sc.Text(), "suppressed", suppressed)
			suppressed = 0
		} else {
			c.opts.Logger.Info("camera stderr", "command", c.opts.Command, "line", sc.Text())
		}
	}
	if suppressed > 0 {
		c.opts.Logger.Warn("camera stderr lines not logged", "command", c.opts.Command, "suppressed", suppressed)
	}
}
