package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Health checks the device: frames are fresh and the cache is open. It
// returns the problems (empty when healthy) and notes worth knowing either way.
func (s *Server) Health(ctx context.Context) (problems, notes []string) {
	now := s.clock.Now()
	last, known := s.lastFrame()
	off := ""
	if s.opts.CameraOff != nil {
		off = s.opts.CameraOff()
	}
	switch {
	case off != "":
		notes = append(notes, "camera: "+off+" (on purpose)")
	case !known:
		problems = append(problems, "camera: not running")
	case last.IsZero():
		problems = append(problems, "camera: no frame yet")
	default:
		age := max(now.Sub(last), 0)
		if age > s.opts.Stall {
			problems = append(problems, fmt.Sprintf("camera: no frame for %s (limit %s)", round(age), s.opts.Stall))
		} else {
			notes = append(notes, fmt.Sprintf("camera: last frame %s ago", round(age)))
		}
	}
	c := s.opts.Cache
	if c == nil {
		problems = append(problems, "cache: not open")
	} else {
		ok := true
		if p, isPinger := c.(Pinger); isPinger {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := p.Ping(pctx)
			cancel()
			if err != nil {
				problems = append(problems, fmt.Sprintf("cache: not open: %v", err))
				ok = false
			}
		}
		if ok {
			if ft := c.FeedTime(); ft.IsZero() {
				notes = append(notes, "cache: open, never synced")
			} else {
				notes = append(notes, fmt.Sprintf("cache: open, feed %s old", round(max(now.Sub(ft), 0))))
			}
			if c.Stale(now) {
				notes = append(notes, "cache: stale")
			}
		}
	}
	return problems, notes
}

// Ready checks that the gate judges from current data: it is healthy, its
// cache is not stale, and where it syncs a feed it has synced at least once.
// A gate can be alive (Health) and not ready: just provisioned, or cut off
// from its feed for longer than cache.max_age.
func (s *Server) Ready(ctx context.Context) (problems, notes []string) {
	problems, notes = s.Health(ctx)
	now := s.clock.Now()
	if c := s.opts.Cache; c != nil {
		if s.opts.Sync != nil && s.opts.Sync().LastSuccess.IsZero() && c.FeedTime().IsZero() {
			problems = append(problems, "feed: never synced")
		}
		if c.Stale(now) {
			problems = append(problems, "cache: stale")
		}
	}
	return problems, notes
}

// round shortens a duration for people.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	default:
		return d.Round(time.Millisecond)
	}
}

// serveHealth answers /healthz (liveness) and serveReady /readyz
// (readiness): 200 "ok" when all is well, else 503 with the reasons, one a
// line.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	writeHealth(w, s.Health, r)
}

func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	writeHealth(w, s.Ready, r)
}

func writeHealth(w http.ResponseWriter, check func(context.Context) ([]string, []string), r *http.Request) {
	problems, notes := check(r.Context())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	var b strings.Builder
	if len(problems) == 0 {
		b.WriteString("ok\n")
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
		b.WriteString("unhealthy\n")
	}
	for _, l := range append(problems, notes...) {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	w.Write([]byte(b.String()))
}
