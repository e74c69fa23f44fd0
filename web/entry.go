package web

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// csrfHeader carries the page's CSRF token on POST /code.
const csrfHeader = "X-Checkpoint-CSRF"

// maxCodeBody caps the body of POST /code.
const maxCodeBody = 1024

// codeRequest is the body of POST /code.
type codeRequest struct {
	Code string `json:"code"`
}

// serveCode judges a code typed on the page: POST /code with
// {"code":"…"} as JSON and the page's CSRF token in X-Checkpoint-CSRF.
// It answers the verdict as the page shows it.
func (s *Server) serveCode(w http.ResponseWriter, r *http.Request) {
	if s.opts.Enter == nil {
		http.Error(w, "typed codes are not enabled on this gate", http.StatusNotFound)
		return
	}
	if err := s.checkCSRF(r); err != nil {
		s.log.Debug("web: code entry refused", "err", err, "remote", r.RemoteAddr)
		http.Error(w, "forbidden: "+err.Error(), http.StatusForbidden)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		http.Error(w, "the code is sent as JSON (Content-Type: application/json)", http.StatusUnsupportedMediaType)
		return
	}
	var req codeRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxCodeBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Code == "" {
		http.Error(w, `the body must be {"code":"DIGITS"}`, http.StatusBadRequest)
		return
	}
	v := s.opts.Enter(r.Context(), req.Code)
	st := s.verdictState(&shown{v: v, at: s.clock.Now()}, s.clock.Now())
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(st)
}

// checkCSRF refuses a request another site's page could have sent: it must
// carry the token only this server's pages know (another origin cannot
// read them, and cannot set the header without a preflight this server
// never grants), and any Origin or Sec-Fetch-Site it has must be this
// server's own.
func (s *Server) checkCSRF(r *http.Request) error {
	if subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(s.csrf)) != 1 {
		return errors.New("missing or wrong " + csrfHeader + " token (reload the page)")
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return errors.New("request from another site (" + site + ")")
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return errors.New("request from another origin")
		}
	}
	return nil
}

// countsEvery bounds how often the page's counts are read from the log.
const countsEvery = time.Second

// passages returns today's counts for the page, read at most every
// countsEvery; nil without a direction or a count.
func (s *Server) passages(now time.Time) *CountState {
	if s.opts.Direction == "" || s.opts.Passages == nil {
		return nil
	}
	s.mu.Lock()
	c, at := s.counts, s.counted
	s.mu.Unlock()
	if c != nil && now.Sub(at) < countsEvery && !now.Before(at) {
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	in, out, err := s.opts.Passages(ctx)
	if err != nil {
		s.log.Debug("web: count passages", "err", err)
		return c
	}
	c = &CountState{Direction: s.opts.Direction, In: in, Out: out, Present: max(in-out, 0)}
	s.mu.Lock()
	s.counts, s.counted = c, now
	s.mu.Unlock()
	return c
}
