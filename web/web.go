// Package web is the scanner's HTTP face: the operator screen (/), a camera
// preview for aiming and focusing (/preview), Prometheus metrics (/metrics)
// and a health check (/healthz).
//
// The Server watches the frame loop as a checkpoint.Observer and reads the
// other parts' counters through the small interfaces in status.go. It listens
// on loopback by default; beyond loopback it refuses to start without a token.
package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"checkpoint"
	"checkpoint/internal/netutil"
)

// DefaultListen is the address used when the config leaves web.listen empty.
const DefaultListen = "127.0.0.1:8080"

// DefaultHold is how long the operator screen shows a verdict before it
// returns to the idle screen.
const DefaultHold = 10 * time.Second

// DefaultPreviewFPS is the preview's frame rate: enough to aim and focus,
// cheap for the frame loop.
const DefaultPreviewFPS = 4

// heartbeat is how often the event stream repeats the state, so the page
// notices a dead connection and the feed and frame ages keep ticking.
const heartbeat = 2 * time.Second

// maxStreams caps concurrent event streams, of which loopbackStreams are
// kept for clients on this machine (the kiosk): remote clients, even with
// the token, cannot blank the gate's own screen. maxPreviews caps preview
// streams.
const (
	maxStreams      = 32
	loopbackStreams = 4
	maxPreviews     = 4
)

// cookieName is the cookie a valid ?token= sets for the browser.
const cookieName = "checkpoint_auth"

//go:embed ui
var uiFiles embed.FS

// Options configure a Server. Every field may be left zero.
type Options struct {
	// Listen is the address, host:port ("" means DefaultListen).
	Listen string
	// Token is required of every request when set; it must be set when
	// Listen is beyond loopback.
	Token string
	// Preview enables the camera stream for aiming (off by default, for
	// privacy).
	Preview bool
	// Gate is the gate's name, shown small on the page.
	Gate string

	Scanner Scanner                // frame loop counters; nil: none
	Camera  Camera                 // camera counters; nil: none
	Cache   Cache                  // status cache; nil: not open
	Sync    func() SyncStats       // background sync counters; nil: no sync
	Clock   checkpoint.Clock       // nil: the system clock
	Logger  *slog.Logger           // nil: discard
	Stall   time.Duration          // frames older than this are not fresh (checkpoint.DefaultStallTimeout when zero)
	Hold    time.Duration          // how long the page shows a verdict (DefaultHold when zero)
	FPS     float64                // preview frames per second (DefaultPreviewFPS when zero)
	Extra   []prometheus.Collector // more collectors for /metrics (optional)

	// Enter, when set, judges a code typed on the page's keypad (POST
	// /code, with the page's CSRF token); nil: the page has no keypad.
	Enter func(ctx context.Context, text string) checkpoint.Verdict
	// Vietnamese translates a verdict reason; the page shows it first and
	// the English beneath (nil: English only).
	Vietnamese func(reason string) (string, bool)
	// Direction is the gate's ("in" or "out"); with Passages the idle page
	// shows today's entries, exits and who is inside.
	Direction string
	Passages  func(ctx context.Context) (in, out int64, err error)
	// CameraOff, when set, says the camera is off on purpose: "none" (the
	// gate has none) or "paused" (trigger mode between presses); "" when
	// it runs. The page and /healthz then expect no frames.
	CameraOff func() string
}

// Server is the HTTP server. It is a checkpoint.Observer: add it to the
// Scanner's Observers.
type Server struct {
	opts    Options
	listen  string
	token   []byte // empty: no token required
	cookie  string // cookie value that proves the token
	boot    string // random per Server, so the page can tell a restart
	csrf    string // random per Server: POST /code must carry it
	clock   checkpoint.Clock
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *metrics
	preview *preview
	handler http.Handler

	mu      sync.Mutex
	seq     uint64 // verdicts seen
	last    *shown // newest verdict
	idle    checkpoint.IdleMode
	idleSet bool
	subs    map[chan struct{}]bool // event streams: from loopback?
	// remoteSubs counts the streams not from loopback.
	remoteSubs int
	counted    time.Time // when counts was read, by the clock
	counts     *CountState
}

// shown is a verdict as the page shows it.
type shown struct {
	id uint64
	v  checkpoint.Verdict
	at time.Time // when the server received it, by the clock
}

var _ checkpoint.Observer = (*Server)(nil)

// New checks the options and returns a Server. It fails when the listen
// address is not host:port, or is beyond loopback and no token is set.
func New(opts Options) (*Server, error) {
	listen := opts.Listen
	if listen == "" {
		listen = DefaultListen
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("web: listen address %q is not host:port: %w", listen, err)
	}
	if opts.Token == "" && !netutil.IsLoopback(host) {
		return nil, fmt.Errorf("web: refusing to listen on %s without a token: set web.token, or listen on 127.0.0.1", listen)
	}
	if opts.Clock == nil {
		opts.Clock = checkpoint.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Stall <= 0 {
		opts.Stall = checkpoint.DefaultStallTimeout
	}
	if opts.Hold <= 0 {
		opts.Hold = DefaultHold
	}
	if opts.FPS <= 0 {
		opts.FPS = DefaultPreviewFPS
	}
	var b [8]byte
	rand.Read(b[:])
	var c [16]byte
	rand.Read(c[:])
	s := &Server{
		opts:   opts,
		listen: listen,
		boot:   hex.EncodeToString(b[:]),
		csrf:   hex.EncodeToString(c[:]),
		clock:  opts.Clock,
		log:    opts.Logger,
		subs:   make(map[chan struct{}]bool),
	}
	if opts.Token != "" {
		s.token = []byte(opts.Token)
		m := hmac.New(sha256.New, s.token)
		m.Write([]byte("checkpoint web cookie"))
		s.cookie = hex.EncodeToString(m.Sum(nil))
	}
	s.preview = newPreview(opts.Preview, time.Duration(float64(time.Second)/opts.FPS), s.clock)
	s.reg, s.metrics = newMetrics(s)
	for _, c := range opts.Extra {
		if err := s.reg.Register(c); err != nil {
			return nil, fmt.Errorf("web: register collector: %w", err)
		}
	}
	s.handler = s.routes()
	return s, nil
}

// Addr returns the address the server listens on with ListenAndServe.
func (s *Server) Addr() string { return s.listen }

// Registry returns the server's private Prometheus registry.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Handler returns the server's HTTP handler, token check included.
func (s *Server) Handler() http.Handler { return s.handler }

// ListenAndServe listens on the configured address and serves until ctx is
// done; it then shuts down and returns nil.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.listen)
	if err != nil {
		return fmt.Errorf("web: listen on %s: %w", s.listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done; it then shuts down, closes ln and
// returns nil. Without a token it refuses a listener beyond loopback.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if len(s.token) == 0 {
		if a, ok := ln.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() {
			ln.Close()
			return fmt.Errorf("web: refusing to serve on %s without a token: set web.token, or listen on 127.0.0.1", a)
		}
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		// Request contexts end with ctx, so event and preview streams stop
		// and Shutdown does not wait for them.
		BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog:    slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.log.Info("web: serving", "addr", ln.Addr().String(), "token", len(s.token) > 0, "preview", s.opts.Preview)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("web: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("web: serve on %s: %w", ln.Addr(), err)
	}
	return nil
}

// routes builds the handler.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	ui, _ := fs.Sub(uiFiles, "ui")
	static := http.FileServerFS(ui)
	mux.Handle("GET /{$}", static)
	mux.Handle("GET /app.js", static)
	mux.Handle("GET /app.css", static)
	mux.HandleFunc("GET /events", s.serveEvents)
	mux.HandleFunc("GET /state", s.serveState)
	mux.HandleFunc("GET /healthz", s.serveHealth)
	mux.HandleFunc("GET /readyz", s.serveReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	mux.HandleFunc("GET /preview", s.servePreview)
	mux.HandleFunc("GET /preview.jpg", s.serveSnapshot)
	mux.HandleFunc("POST /code", s.serveCode)
	return s.secure(s.auth(mux))
}

// secure adds headers that keep the page self-contained.
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// auth requires the token when one is set: as "Authorization: Bearer TOKEN",
// as ?token=TOKEN (which also sets an HttpOnly cookie, for the browser and the
// kiosk), or as that cookie.
func (s *Server) auth(next http.Handler) http.Handler {
	if len(s.token) == 0 {
		return s.loopbackOnly(next)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Has("token") {
			if !s.tokenOK(q.Get("token")) {
				s.deny(w, r)
				return
			}
			http.SetCookie(w, &http.Cookie{
				Name: cookieName, Value: s.cookie, Path: "/",
				HttpOnly: true, SameSite: http.SameSiteStrictMode,
				MaxAge: 400 * 24 * 3600,
			})
			if r.URL.Path == "/" {
				// Take the token out of the address bar and history.
				q.Del("token")
				u := *r.URL
				u.RawQuery = q.Encode()
				http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if h := r.Header.Get("Authorization"); h != "" {
			tok, ok := strings.CutPrefix(h, "Bearer ")
			if !ok || !s.tokenOK(strings.TrimSpace(tok)) {
				s.deny(w, r)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie(cookieName); err == nil &&
			subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.cookie)) == 1 {
			next.ServeHTTP(w, r)
			return
		}
		s.deny(w, r)
	})
}

// loopbackOnly answers only requests whose Host header is a loopback name
// or address. Without a token the loopback listener is all that guards the
// screen, and a page of another site whose name is rebound to 127.0.0.1 (DNS
// rebinding) would reach it from a browser on the gate; its requests still
// carry the other site's name.
func (s *Server) loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			s.log.Debug("web: request naming a host beyond loopback refused", "path", r.URL.Path, "remote", r.RemoteAddr)
			http.Error(w, "forbidden: without web.token the screen answers only requests for a loopback address, such as http://127.0.0.1:PORT/ or http://localhost:PORT/", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header ("host", "host:port",
// "[::1]:port") names a loopback name or address.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	return netutil.IsLoopback(strings.ToLower(strings.TrimSuffix(host, ".")))
}

// tokenOK compares in constant time.
func (s *Server) tokenOK(tok string) bool {
	a := sha256.Sum256([]byte(tok))
	b := sha256.Sum256(s.token)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

func (s *Server) deny(w http.ResponseWriter, r *http.Request) {
	s.log.Debug("web: unauthorized request", "path", r.URL.Path, "remote", r.RemoteAddr)
	w.Header().Set("WWW-Authenticate", `Bearer realm="checkpoint"`)
	http.Error(w, "unauthorized: send the token as 'Authorization: Bearer TOKEN' or open /?token=TOKEN", http.StatusUnauthorized)
}
