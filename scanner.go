package checkpoint

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCooldown is how long the same credential is ignored after it was seen.
const DefaultCooldown = 3 * time.Second

// DefaultStallTimeout is how long without a frame before the camera is a fault.
const DefaultStallTimeout = 5 * time.Second

// DecodeTimer is an optional interface of a Decoder that decodes frames
// ahead of the loop (such as decode.Pipeline): the loop cannot time that
// work itself, so Elapsed reports how long f took to decode.
type DecodeTimer interface {
	Elapsed(f *Frame) (time.Duration, bool)
}

// Event is one verdict as the scanner produced it.
type Event struct {
	Verdict  Verdict
	Symbol   Symbol        // where the code was; its Text must never be logged
	FrameSeq uint64        // the frame the code was decoded from
	Latency  time.Duration // from frame capture to verdict
}

// Observer watches the scanner. Methods are called from the frame loop and
// must return quickly: hand work to another goroutine.
type Observer interface {
	// Frame is called for every frame after decoding. f is only valid during the call.
	Frame(f *Frame, syms []Symbol, decode time.Duration)
	// Verdict is called for every new verdict.
	Verdict(e Event)
	// Idle is called when the idle mode changes.
	Idle(m IdleMode)
}

// NopObserver is an Observer that does nothing; embed it to implement only some methods.
type NopObserver struct{}

// Frame does nothing.
func (NopObserver) Frame(*Frame, []Symbol, time.Duration) {}

// Verdict does nothing.
func (NopObserver) Verdict(Event) {}

// Idle does nothing.
func (NopObserver) Idle(IdleMode) {}

// Scanner runs the frame loop: camera → decode → parse → judge → indicator.
// Codes that come as text (hardware scanners, typed codes) enter through
// Submit and take the same path from the parser on.
type Scanner struct {
	Source    Source
	Decoder   Decoder
	Parser    Parser
	Judge     Judge
	Indicator Indicator
	Clock     Clock
	Logger    *slog.Logger
	Observers []Observer

	// Cooldown is how long a credential seen again produces no new verdict
	// (DefaultCooldown when zero). Every sighting restarts it, so a code held
	// in view gives one verdict.
	Cooldown time.Duration
	// StallTimeout is how long without a frame before the fault pattern
	// plays (DefaultStallTimeout when zero).
	StallTimeout time.Duration
	// Stale reports whether the status cache is stale at now; nil means never.
	Stale func(now time.Time) bool
	// Fault reports a fault outside the camera (such as a cache being
	// rebuilt after corruption) that the fault pattern must show; nil means none.
	Fault func() bool
	// Heartbeat, when set, is called once per frame from the loop (the
	// systemd watchdog).
	Heartbeat func()
	// FirstFrame, when set, is called once, after the first frame arrived.
	FirstFrame func()
	// Paused, when set, reports whether the camera is stopped on purpose
	// (trigger mode between presses): no frame is then no stall.
	Paused func() bool

	lastFrame atomic.Int64 // unix nanos of the newest frame handled
	stats     scannerCounters

	// judging makes one symbol at a time go through parse, cooldown,
	// judge and signal, whichever input it came from.
	judging sync.Mutex

	mu    sync.Mutex
	seen  map[dedupKey]time.Time // credential → last sighting
	texts map[string]sighting    // raw text → its credential, last sighting
	idle  IdleMode
}

// sighting is a text seen within the cooldown and the dedup key it parsed to.
type sighting struct {
	key dedupKey
	at  time.Time
}

type scannerCounters struct {
	frames   atomic.Uint64
	symbols  atomic.Uint64
	verdicts [3]atomic.Uint64
	repeats  atomic.Uint64
	faults   atomic.Uint64
}

// ScannerStats are the scanner's counters.
type ScannerStats struct {
	Frames    uint64    // frames decoded
	Symbols   uint64    // codes decoded
	Verdicts  [3]uint64 // verdicts by Color
	Repeats   uint64    // sightings suppressed by the cooldown
	Faults    uint64    // times the camera stalled
	LastFrame time.Time // when the newest frame was handled (zero before the first)
	Idle      IdleMode
}

// Stats returns the scanner's counters.
func (s *Scanner) Stats() ScannerStats {
	st := ScannerStats{
		Frames:  s.stats.frames.Load(),
		Symbols: s.stats.symbols.Load(),
		Repeats: s.stats.repeats.Load(),
		Faults:  s.stats.faults.Load(),
	}
	for i := range st.Verdicts {
		st.Verdicts[i] = s.stats.verdicts[i].Load()
	}
	if n := s.lastFrame.Load(); n != 0 {
		st.LastFrame = time.Unix(0, n)
	}
	s.mu.Lock()
	st.Idle = s.idle
	s.mu.Unlock()
	return st
}

// Run runs the loop until ctx is done (returns nil) or the source ends
// (returns nil on io.EOF) or fails.
func (s *Scanner) Run(ctx context.Context) error {
	s.judging.Lock()
	if s.seen == nil { // Submit may have come first
		s.init()
	}
	s.judging.Unlock()
	s.lastFrame.Store(s.Clock.Now().UnixNano()) // the stall timer starts now

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.monitor(ctx)
	}()
	defer func() {
		cancel()
		wg.Wait()
	}()

	if s.Source == nil {
		// No camera: codes come only through Submit.
		<-ctx.Done()
		return nil
	}
	first := true
	for {
		f, err := s.Source.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		s.frame(ctx, f)
		if first {
			first = false
			if s.FirstFrame != nil {
				s.FirstFrame()
			}
		}
	}
}

// frame handles one frame.
func (s *Scanner) frame(ctx context.Context, f *Frame) {
	t0 := time.Now()
	syms, err := s.Decoder.Decode(ctx, f)
	dt := time.Since(t0)
	if t, ok := s.Decoder.(DecodeTimer); ok {
		if d, ok := t.Elapsed(f); ok {
			dt = d
		}
	}
	if err != nil {
		s.Logger.Debug("decode failed", "frame", f.Seq, "err", err)
	}
	s.stats.frames.Add(1)
	s.lastFrame.Store(s.Clock.Now().UnixNano())
	if s.Heartbeat != nil {
		s.Heartbeat()
	}
	for _, o := range s.Observers {
		o.Frame(f, syms, dt)
	}
	if len(syms) == 0 {
		return
	}
	for _, sym := range syms {
		s.handle(ctx, sym, f.Seq, f.Time)
	}
}

// Submit judges a code that came as text (a hardware scanner, a typed
// code) as the frame loop judges a decoded one, and returns its event; ok
// is false when the code was a repeat within the cooldown. A typed code is
// never a repeat: each entry is deliberate. Safe to call from any goroutine.
func (s *Scanner) Submit(ctx context.Context, sym Symbol) (e Event, ok bool) {
	return s.handle(ctx, sym, 0, time.Now())
}

// handle takes one symbol through parse, cooldown, judge and signal; seen
// is when its frame was captured (or its text arrived), for the latency.
func (s *Scanner) handle(ctx context.Context, sym Symbol, seq uint64, seen time.Time) (Event, bool) {
	s.judging.Lock()
	defer s.judging.Unlock()
	if s.seen == nil {
		s.init()
	}
	now := s.Clock.Now()
	s.expire(now)
	s.stats.symbols.Add(1)
	typed := sym.Input == InputTyped
	// A text seen within the cooldown is a repeat before any parsing: a
	// certificate held in view is verified once, not on every frame.
	if !typed && s.repeatText(sym.Text, now) {
		s.stats.repeats.Add(1)
		return Event{}, false
	}
	c := s.parse(sym)
	if s.repeat(c, sym.Text, now) && !typed {
		s.stats.repeats.Add(1)
		return Event{}, false
	}
	v := s.Judge.Judge(ctx, c, now)
	if vi, ok := s.Indicator.(VerdictIndicator); ok {
		vi.ShowVerdict(v)
	} else {
		s.Indicator.Show(v.Color)
	}
	s.stats.verdicts[v.Color%3].Add(1)
	e := Event{Verdict: v, Symbol: sym, FrameSeq: seq, Latency: time.Since(seen)}
	s.Logger.Info("verdict", "verdict", v.Color.String(), "format", string(v.Format),
		"reasons", strings.Join(v.Reasons, "; "), "input", sym.Input.String(), "frame", seq, "latency", e.Latency)
	for _, o := range s.Observers {
		o.Verdict(e)
	}
	return e, true
}

// parse parses a symbol's text: a typed code by the parser's ParseTyped.
func (s *Scanner) parse(sym Symbol) Credential {
	if sym.Input != InputTyped {
		return s.Parser.Parse(sym.Text)
	}
	if tp, ok := s.Parser.(TypedParser); ok {
		return tp.ParseTyped(sym.Text)
	}
	return Credential{Format: FormatUnknown, Err: errors.New("typed codes are not understood by this parser")}
}

// init sets the defaults and empties the cooldown maps.
func (s *Scanner) init() {
	if s.Clock == nil {
		s.Clock = SystemClock{}
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Cooldown == 0 {
		s.Cooldown = DefaultCooldown
	}
	if s.StallTimeout == 0 {
		s.StallTimeout = DefaultStallTimeout
	}
	s.mu.Lock()
	s.seen = make(map[dedupKey]time.Time)
	s.texts = make(map[string]sighting)
	s.mu.Unlock()
}

// dedupKey is what the cooldown is kept by: the format and credential key
// when there is one, else the whole text (with no format).
type dedupKey struct {
	format Format
	key    string
}

func keyOf(c Credential, text string) dedupKey {
	if c.Key != "" {
		return dedupKey{c.Format, c.Key}
	}
	return dedupKey{"", text}
}

// repeat reports whether the credential was seen within the cooldown, and
// restarts its cooldown.
func (s *Scanner) repeat(c Credential, text string, now time.Time) bool {
	k := keyOf(c, text)
	s.mu.Lock()
	defer s.mu.Unlock()
	last, ok := s.seen[k]
	s.seen[k] = now
	s.texts[text] = sighting{key: k, at: now}
	return ok && s.within(last, now)
}

// repeatText reports whether text itself was seen within the cooldown; if so
// it restarts the cooldown of the text and of its credential.
func (s *Scanner) repeatText(text string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.texts[text]
	if !ok || !s.within(st.at, now) {
		return false
	}
	s.texts[text] = sighting{key: st.key, at: now}
	s.seen[st.key] = now
	return true
}

// within reports whether now is within the cooldown after last.
func (s *Scanner) within(last, now time.Time) bool {
	return now.Sub(last) < s.Cooldown && !now.Before(last)
}

// expire forgets credentials whose cooldown has passed, so the map stays small.
func (s *Scanner) expire(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) < 64 && len(s.texts) < 64 {
		return
	}
	for k, t := range s.seen {
		if !s.within(t, now) {
			delete(s.seen, k)
		}
	}
	for k, st := range s.texts {
		if !s.within(st.at, now) {
			delete(s.texts, k)
		}
	}
}

// monitor watches for camera stalls and a stale cache and sets the idle mode.
func (s *Scanner) monitor(ctx context.Context) {
	period := s.StallTimeout / 4
	if period > time.Second {
		period = time.Second
	}
	t := time.NewTicker(period)
	defer t.Stop()
	s.setIdle(s.idleMode(s.Clock.Now()))
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.setIdle(s.idleMode(s.Clock.Now()))
			// Without frames the loop cannot prove itself alive; while the
			// camera is absent or stopped on purpose, the monitor does.
			if s.Heartbeat != nil && s.cameraOff() {
				s.Heartbeat()
			}
		}
	}
}

// idleMode decides the idle mode at now: a stalled camera wins over a
// stale cache. Without a camera, or while it is paused on purpose, no frame
// is no stall (and the stall timer starts again when it resumes).
func (s *Scanner) idleMode(now time.Time) IdleMode {
	if s.cameraOff() {
		s.lastFrame.Store(now.UnixNano())
	}
	last := time.Unix(0, s.lastFrame.Load())
	if now.Sub(last) > s.StallTimeout || (s.Fault != nil && s.Fault()) {
		return IdleFault
	}
	if s.Stale != nil && s.Stale(now) {
		return IdleStale
	}
	return IdleReady
}

// cameraOff reports whether there is no camera, or it is stopped on purpose.
func (s *Scanner) cameraOff() bool {
	return s.Source == nil || s.Paused != nil && s.Paused()
}

func (s *Scanner) setIdle(m IdleMode) {
	s.mu.Lock()
	old := s.idle
	s.idle = m
	s.mu.Unlock()
	if old == m {
		return
	}
	switch {
	case m == IdleFault:
		s.stats.faults.Add(1)
		if s.Fault != nil && s.Fault() {
			s.Logger.Warn("fault: status cache is being rebuilt")
		} else {
			s.Logger.Warn("camera stalled: no frame", "timeout", s.StallTimeout)
		}
	case old == IdleFault:
		s.Logger.Info("fault cleared")
	case m == IdleStale:
		s.Logger.Warn("status cache is stale")
	}
	s.Indicator.Idle(m)
	for _, o := range s.Observers {
		o.Idle(m)
	}
}
