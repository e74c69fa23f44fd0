package web

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"checkpoint"
)

// Frame implements checkpoint.Observer: it records the decode time and, only
// while a preview client watches, copies a few frames a second.
func (s *Server) Frame(f *checkpoint.Frame, syms []checkpoint.Symbol, decode time.Duration) {
	s.metrics.decode.Observe(decode.Seconds())
	s.preview.offer(f, syms)
}

// Verdict implements checkpoint.Observer: the page shows the verdict at once.
func (s *Server) Verdict(e checkpoint.Event) {
	s.metrics.verdicts[e.Verdict.Color%3].Inc()
	v := e.Verdict
	v.Reasons = append([]string(nil), v.Reasons...)
	now := s.clock.Now()
	s.mu.Lock()
	s.seq++
	s.last = &shown{id: s.seq, v: v, at: now}
	s.mu.Unlock()
	s.notify()
}

// Idle implements checkpoint.Observer.
func (s *Server) Idle(m checkpoint.IdleMode) {
	s.mu.Lock()
	s.idle, s.idleSet = m, true
	s.mu.Unlock()
	s.notify()
}

// notify wakes every event stream; a stream that is behind sends the newest
// state once.
func (s *Server) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// subscribe adds an event stream, unless maxStreams are open or, for a
// remote client, all but the loopbackStreams kept for this machine.
func (s *Server) subscribe(loopback bool) (chan struct{}, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.subs) >= maxStreams || (!loopback && s.remoteSubs >= maxStreams-loopbackStreams) {
		return nil, false
	}
	ch := make(chan struct{}, 1)
	s.subs[ch] = loopback
	if !loopback {
		s.remoteSubs++
	}
	return ch, true
}

func (s *Server) unsubscribe(ch chan struct{}) {
	s.mu.Lock()
	if loopback, ok := s.subs[ch]; ok && !loopback {
		s.remoteSubs--
	}
	delete(s.subs, ch)
	s.mu.Unlock()
}

// fromLoopback reports whether r comes from this machine.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) streams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// State is what the page shows, as JSON on /state and in each event of
// /events.
type State struct {
	Boot    string        `json:"boot"` // changes when the daemon restarts
	Gate    string        `json:"gate,omitempty"`
	HoldMS  int64         `json:"hold_ms"` // show a verdict this long
	Preview bool          `json:"preview"`
	Verdict *VerdictState `json:"verdict,omitempty"`
	Device  DeviceState   `json:"device"`
	// CSRF is the token POST /code must carry; set when the page has a
	// keypad for typed codes.
	CSRF   string      `json:"csrf,omitempty"`
	Counts *CountState `json:"counts,omitempty"` // today's passages, at a gate with a direction
}

// CountState is today's entries and exits at this gate (the day in
// Vietnam) and who is inside (in − out, never below zero).
type CountState struct {
	Direction string `json:"direction"` // in or out
	In        int64  `json:"in"`
	Out       int64  `json:"out"`
	Present   int64  `json:"present"`
}

// VerdictState is the newest verdict. Holder fields are for the screen only.
type VerdictState struct {
	ID      uint64   `json:"id"`
	Color   string   `json:"color"` // green, yellow, red
	Reasons []string `json:"reasons"`
	// ReasonsVI are the reasons in Vietnamese, one for each of Reasons (""
	// where none is known).
	ReasonsVI []string `json:"reasons_vi"`
	// Identity is the identity check's outcome: "same person", "different
	// person", or "" when this verdict completed no pair.
	Identity   string `json:"identity,omitempty"`
	Format     string `json:"format,omitempty"`
	Initials   string `json:"initials,omitempty"`
	BirthDay   int    `json:"birth_day,omitempty"`
	BirthMonth int    `json:"birth_month,omitempty"`
	Name       string `json:"name,omitempty"` // only when the site allows full names
	AgeMS      int64  `json:"age_ms"`         // time since the verdict
}

// DeviceState is the device's condition, shown while idle.
type DeviceState struct {
	Idle       string `json:"idle"`         // ready, stale, fault
	Camera     string `json:"camera"`       // ok, stalled, absent, none (on purpose), paused (trigger mode)
	FrameAgeMS int64  `json:"frame_age_ms"` // -1 when unknown
	Width      int    `json:"width,omitempty"`
	Height     int    `json:"height,omitempty"`
	Dropped    uint64 `json:"dropped"`
	Cache      bool   `json:"cache"`       // the cache is open
	FeedAgeMS  int64  `json:"feed_age_ms"` // -1 before the first sync
	Stale      bool   `json:"stale"`
	Version    int64  `json:"version,omitempty"`
	SyncErrors uint64 `json:"sync_errors,omitempty"`
	Stick      string `json:"stick,omitempty"`    // the last USB stick's result
	Firmware   string `json:"firmware,omitempty"` // a firmware rolled back, and why
}

// State returns what the page shows now.
func (s *Server) State() State {
	now := s.clock.Now()
	st := State{
		Boot:    s.boot,
		Gate:    s.opts.Gate,
		HoldMS:  s.opts.Hold.Milliseconds(),
		Preview: s.opts.Preview,
	}
	s.mu.Lock()
	last, idle, idleSet := s.last, s.idle, s.idleSet
	s.mu.Unlock()
	if last != nil {
		st.Verdict = s.verdictState(last, now)
	}
	if s.opts.Enter != nil {
		st.CSRF = s.csrf
	}
	st.Counts = s.passages(now)
	st.Device = s.device(now, idle, idleSet)
	return st
}

// verdictState is a verdict as the page shows it at now.
func (s *Server) verdictState(last *shown, now time.Time) *VerdictState {
	h := last.v.Holder
	vs := &VerdictState{
		ID:         last.id,
		Color:      last.v.Color.String(),
		Reasons:    last.v.Reasons,
		ReasonsVI:  make([]string, len(last.v.Reasons)),
		Identity:   last.v.Identity.String(),
		Format:     string(last.v.Format),
		Initials:   h.Initials,
		BirthDay:   h.BirthDay,
		BirthMonth: h.BirthMonth,
		Name:       h.FullName,
		AgeMS:      max(now.Sub(last.at), 0).Milliseconds(),
	}
	if vs.Reasons == nil {
		vs.Reasons = []string{}
	}
	if s.opts.Vietnamese != nil {
		for i, r := range vs.Reasons {
			vs.ReasonsVI[i], _ = s.opts.Vietnamese(r)
		}
	}
	return vs
}

// device gathers the device state at now.
func (s *Server) device(now time.Time, idle checkpoint.IdleMode, idleSet bool) DeviceState {
	d := DeviceState{Camera: "absent", FrameAgeMS: -1, FeedAgeMS: -1}
	last, known := s.lastFrame()
	if s.opts.Scanner != nil {
		st := s.opts.Scanner.Stats()
		if !idleSet {
			idle = st.Idle
		}
	}
	if s.opts.Camera != nil {
		cs := s.opts.Camera.Stats()
		d.Width, d.Height, d.Dropped = cs.Width, cs.Height, cs.Dropped
	}
	if known {
		d.Camera = "ok"
		if last.IsZero() {
			d.Camera = "stalled"
		} else {
			age := max(now.Sub(last), 0)
			d.FrameAgeMS = age.Milliseconds()
			if age > s.opts.Stall {
				d.Camera = "stalled"
			}
		}
		if idle == checkpoint.IdleFault {
			d.Camera = "stalled"
		}
	}
	if c := s.opts.Cache; c != nil {
		d.Cache = true
		if ft := c.FeedTime(); !ft.IsZero() {
			d.FeedAgeMS = max(now.Sub(ft), 0).Milliseconds()
		}
		d.Stale = c.Stale(now)
	}
	if v, ok := s.opts.Cache.(Versioner); ok {
		d.Version = v.Version()
	}
	if s.opts.Sync != nil {
		ss := s.opts.Sync()
		d.Version, d.SyncErrors, d.Stick, d.Firmware = ss.Version, ss.Errors, ss.Stick, ss.Firmware
	}
	if s.opts.CameraOff != nil {
		if off := s.opts.CameraOff(); off != "" {
			d.Camera, d.FrameAgeMS = off, -1
		}
	}
	d.Idle = idle.String()
	return d
}

// lastFrame returns the time of the newest frame (the scanner's, else the
// camera's) and whether any frame counter exists.
func (s *Server) lastFrame() (time.Time, bool) {
	if s.opts.Scanner != nil {
		return s.opts.Scanner.Stats().LastFrame, true
	}
	if s.opts.Camera != nil {
		return s.opts.Camera.Stats().LastFrame, true
	}
	return time.Time{}, false
}

// serveState serves the state as JSON: the page's fallback when it has no
// EventSource.
func (s *Server) serveState(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(s.State())
}

// serveEvents streams the state as Server-Sent Events: at once, on every
// change, and every heartbeat.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	ch, ok := s.subscribe(fromLoopback(r))
	if !ok {
		http.Error(w, "too many event streams: poll /state instead", http.StatusServiceUnavailable)
		return
	}
	defer s.unsubscribe(ch)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(first bool) bool {
		b, err := json.Marshal(s.State())
		if err != nil {
			return false
		}
		rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if first {
			// The browser waits this long before reconnecting.
			fmt.Fprint(w, "retry: 1000\n")
		}
		if _, err := fmt.Fprintf(w, "event: state\ndata: %s\n\n", b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(true) {
		return
	}
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ch:
		case <-t.C:
		}
		if !send(false) {
			return
		}
	}
}
