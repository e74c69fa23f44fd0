package gpio

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"checkpoint"
)

// Outputs sets the physical outputs. Drivers: *Pins (periph.io),
// *Terminal (demo) and None.
type Outputs interface {
	// Set switches the outputs to s; drivers change only what differs.
	Set(s State) error
	// Close returns every output to its safe state (all off, relay
	// released) and releases the driver's resources.
	Close() error
}

// Announcer is implemented by outputs that also describe what is playing
// (the terminal). Announce is called from the Signal's goroutine when a
// verdict pattern starts and when the idle mode changes.
type Announcer interface {
	Announce(p Pattern)
}

// Options tune a Signal.
type Options struct {
	// Clock times pattern playback (nil: checkpoint.SystemClock); tests
	// inject clocktest.Clock.
	Clock    checkpoint.TimerClock
	Patterns *Patterns // nil: DefaultPatterns()
	Logger   *slog.Logger
}

// Signal plays patterns on Outputs in its own goroutine. It implements
// checkpoint.Indicator: Show and Idle return at once, and a new verdict
// replaces the pattern that is playing.
type Signal struct {
	out   Outputs
	clock checkpoint.TimerClock
	pats  Patterns
	log   *slog.Logger

	mu      sync.Mutex
	pending *Pattern // once-pattern to start, nil if none
	idle    checkpoint.IdleMode
	idleSet bool // idle changed since the player last looked
	syncs   []chan struct{}
	waits   []chan struct{}
	closing bool
	state   State // last state applied (for State())
	setErr  error // the driver's last error, nil when the last Set worked
	playing string

	notify    chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
	bg        sync.WaitGroup
	bgCancel  context.CancelFunc
	bgCtx     context.Context
}

var (
	_ checkpoint.Indicator        = (*Signal)(nil)
	_ checkpoint.VerdictIndicator = (*Signal)(nil)
)

// New starts a Signal on out. The outputs start in the idle pattern (ready:
// all off).
func New(out Outputs, opts Options) *Signal {
	s := &Signal{
		out:    out,
		clock:  opts.Clock,
		log:    opts.Logger,
		notify: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	if s.clock == nil {
		s.clock = checkpoint.SystemClock{}
	}
	if opts.Patterns != nil {
		s.pats = *opts.Patterns
	} else {
		s.pats = DefaultPatterns()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	go s.run()
	return s
}

// Patterns returns the patterns the signal plays.
func (s *Signal) Patterns() Patterns { return s.pats }

// Show plays the verdict's pattern once, replacing whatever was playing,
// then returns to the idle pattern.
func (s *Signal) Show(c checkpoint.Color) {
	switch c {
	case checkpoint.Green:
		s.Play(s.pats.Green)
	case checkpoint.Yellow:
		s.Play(s.pats.Yellow)
	default:
		s.Play(s.pats.Red)
	}
}

// ShowVerdict implements checkpoint.VerdictIndicator: the verdict's
// pattern, the distinct one for a different person, and the same person
// said beside the colour on the terminal.
func (s *Signal) ShowVerdict(v checkpoint.Verdict) {
	switch v.Identity {
	case checkpoint.IdentityDifferent:
		s.Play(s.pats.Different)
		return
	case checkpoint.IdentitySame:
		p := s.pats.Red
		switch v.Color {
		case checkpoint.Green:
			p = s.pats.Green
		case checkpoint.Yellow:
			p = s.pats.Yellow
		}
		p.Note = "same person · cùng người"
		s.Play(p)
		return
	}
	s.Show(v.Color)
}

// Open pulses the relay (the exit button's pattern).
func (s *Signal) Open() { s.Play(s.pats.Open) }

// Play plays p once, replacing whatever was playing, then returns to the
// idle pattern. A repeating pattern plays one period.
func (s *Signal) Play(p Pattern) {
	s.mu.Lock()
	if !s.closing {
		s.pending = &p
	}
	s.mu.Unlock()
	s.wake()
}

// Idle sets the pattern shown between verdicts. A verdict that is playing
// finishes first.
func (s *Signal) Idle(m checkpoint.IdleMode) {
	s.mu.Lock()
	if s.idle != m {
		s.idle = m
		s.idleSet = true
	}
	s.mu.Unlock()
	s.wake()
}

// Sync returns once the signal's goroutine has handled every call made
// before it, and every timer that had fired. Tests use it with a fake clock
// to step patterns deterministically.
func (s *Signal) Sync() {
	ch := make(chan struct{})
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		<-s.done
		return
	}
	s.syncs = append(s.syncs, ch)
	s.mu.Unlock()
	s.wake()
	select {
	case <-ch:
	case <-s.done:
	}
}

// Wait returns once the verdict pattern playing (or requested) when it was
// called has ended or been replaced, or ctx is done.
func (s *Signal) Wait(ctx context.Context) error {
	ch := make(chan struct{})
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.waits = append(s.waits, ch)
	s.mu.Unlock()
	s.wake()
	select {
	case <-ch:
		return nil
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// State returns the outputs' current state as last set.
func (s *Signal) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Err returns the driver's error from the last time the outputs were set,
// nil when that worked.
func (s *Signal) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setErr
}

// Playing returns the name of the pattern playing (an idle pattern's name
// between verdicts).
func (s *Signal) Playing() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.playing
}

// Close stops playback, returns every output to its safe state (all off,
// relay released) and closes the driver. It is safe to call more than once
// and from any goroutine, also while a pattern plays.
func (s *Signal) Close() error {
	s.closeOnce.Do(func() {
		s.bgCancel()
		s.bg.Wait()
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		s.wake()
		<-s.done
	})
	return s.closeErr
}

func (s *Signal) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// player is the state of the playing goroutine.
type player struct {
	steps  []step
	i      int
	repeat bool
	once   bool // a verdict pattern is playing
	timer  checkpoint.Timer
	waits  []chan struct{}
	setErr error
}

func (s *Signal) run() {
	defer close(s.done)
	var p player
	s.mu.Lock()
	idle := s.idle
	s.idleSet = false
	s.mu.Unlock()
	s.start(&p, s.idlePattern(idle), false)
	for {
		var tc <-chan time.Time
		if p.timer != nil {
			tc = p.timer.C()
		}
		// A timer that has fired is handled before any new call, so a fake
		// clock steps patterns in a fixed order.
		select {
		case <-tc:
			s.advance(&p, idle)
			continue
		default:
		}
		select {
		case <-tc:
			s.advance(&p, idle)
			continue
		case <-s.notify:
		}
		s.mu.Lock()
		pending := s.pending
		s.pending = nil
		idleSet := s.idleSet
		s.idleSet = false
		idle = s.idle
		syncs := s.syncs
		s.syncs = nil
		waits := s.waits
		s.waits = nil
		closing := s.closing
		s.mu.Unlock()

		if closing {
			s.stopTimer(&p)
			s.apply(&p, 0)
			s.closeErr = s.out.Close()
			s.mu.Lock()
			s.state = 0
			s.playing = ""
			syncs = append(syncs, s.syncs...)
			waits = append(waits, s.waits...)
			s.syncs, s.waits = nil, nil
			s.mu.Unlock()
			for _, ch := range append(append(syncs, waits...), p.waits...) {
				close(ch)
			}
			return
		}
		switch {
		case pending != nil:
			s.endOnce(&p)
			s.announce(*pending)
			s.start(&p, *pending, true)
		case idleSet:
			ip := s.idlePattern(idle)
			s.announce(ip)
			if !p.once {
				s.start(&p, ip, false)
			}
		}
		for _, ch := range waits {
			if p.once {
				p.waits = append(p.waits, ch)
			} else {
				close(ch)
			}
		}
		for _, ch := range syncs {
			close(ch)
		}
	}
}

func (s *Signal) idlePattern(m checkpoint.IdleMode) Pattern {
	switch m {
	case checkpoint.IdleStale:
		return s.pats.Stale
	case checkpoint.IdleFault:
		return s.pats.Fault
	}
	return s.pats.Ready
}

func (s *Signal) announce(p Pattern) {
	if a, ok := s.out.(Announcer); ok {
		a.Announce(p)
	}
}

// start begins pattern pat from its first step.
func (s *Signal) start(p *player, pat Pattern, once bool) {
	s.stopTimer(p)
	p.steps = pat.steps()
	p.i = 0
	p.once = once
	p.repeat = !once && pat.Period > 0
	s.mu.Lock()
	s.playing = pat.Name
	s.mu.Unlock()
	if len(p.steps) == 0 {
		s.apply(p, 0)
		if once {
			s.endOnce(p)
		}
		return
	}
	s.apply(p, p.steps[0].state)
	p.timer = s.clock.NewTimer(p.steps[0].dur)
}

// advance moves to the next step after the timer fired.
func (s *Signal) advance(p *player, idle checkpoint.IdleMode) {
	p.timer = nil
	p.i++
	if p.i < len(p.steps) {
		s.apply(p, p.steps[p.i].state)
		p.timer = s.clock.NewTimer(p.steps[p.i].dur)
		return
	}
	if p.once {
		s.endOnce(p)
		s.start(p, s.idlePattern(idle), false)
		return
	}
	if p.repeat {
		p.i = 0
		s.apply(p, p.steps[0].state)
		p.timer = s.clock.NewTimer(p.steps[0].dur)
		return
	}
	s.apply(p, 0)
}

// endOnce marks the verdict pattern finished and releases its waiters.
func (s *Signal) endOnce(p *player) {
	p.once = false
	for _, ch := range p.waits {
		close(ch)
	}
	p.waits = nil
}

func (s *Signal) stopTimer(p *player) {
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
}

// apply sets the outputs, logging a driver error when it starts and ends.
func (s *Signal) apply(p *player, st State) {
	err := s.out.Set(st)
	switch {
	case err != nil && p.setErr == nil:
		s.log.Error("cannot set outputs", "state", st.String(), "err", err)
	case err == nil && p.setErr != nil:
		s.log.Info("outputs work again")
	}
	p.setErr = err
	s.mu.Lock()
	if err == nil {
		s.state = st
	}
	s.setErr = err
	s.mu.Unlock()
}

// None is the driver that drives nothing (gpio.driver = "none").
type None struct{}

// Set does nothing.
func (None) Set(State) error { return nil }

// Close does nothing.
func (None) Close() error { return nil }

var _ Outputs = None{}

// errClosed is returned when a driver is used after Close.
var errClosed = errors.New("gpio: outputs closed")
