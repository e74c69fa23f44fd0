package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"checkpoint"
	"checkpoint/cache"
	"checkpoint/camera"
	"checkpoint/config"
	"checkpoint/credential"
	"checkpoint/decode"
	"checkpoint/feed"
	"checkpoint/gpio"
	"checkpoint/notify"
	"checkpoint/policy"
	"checkpoint/web"
)

// gate is one run of the daemon: what it opened, in the order it opened
// them, so that close can undo them in reverse.
type gate struct {
	e   *env
	cfg config.Config
	o   daemonOptions
	log *slog.Logger

	notifier *notify.Notifier
	started  atomic.Bool // the first frame came: READY was sent
	ind      *gpio.Signal
	db       *cache.DB
	clock    checkpoint.Clock
	rules    policy.Rules
	src      checkpoint.Source // nil: no camera
	trig     *camera.Triggered // the camera behind its trigger; nil: none
	closers  []func()
	wg       sync.WaitGroup
	stick    chan os.Signal // SIGUSR1: a stick was mounted (stick.go)
}

// daemon runs the scanner from cfg until ctx is done (or, for a replay
// without loop, until the last frame). A failure before the first frame
// (outputs, cache, camera) is a startupError: systemd then leaves the unit
// failed and checkpoint-fault.service shows the fault pattern.
func daemon(ctx context.Context, e *env, cfg config.Config, o daemonOptions) error {
	g := &gate{e: e, cfg: cfg, o: o, log: newLogger(e.stderr, cfg.LogLevel.L()), stick: make(chan os.Signal, 1)}
	// At once: SIGUSR1's default action would end the daemon.
	signal.Notify(g.stick, syscall.SIGUSR1)
	defer signal.Stop(g.stick)
	if o.configPath != "" {
		g.log.Info("config loaded", "file", o.configPath)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer g.close()
	defer cancel() // stops the goroutines before close waits for them
	if err := g.open(ctx); err != nil {
		return err
	}
	s, err := g.scanner(ctx)
	if err != nil {
		return err
	}
	return g.run(ctx, s)
}

// open claims the outputs, opens the cache and the camera. A failure after
// the outputs are claimed shows the fault pattern until the daemon exits.
func (g *gate) open(ctx context.Context) error {
	g.notifier = notify.New(g.log)
	ind, err := openGPIO(g.cfg.GPIO, g.e.stdout, g.log)
	if err != nil {
		return startupError{fmt.Errorf("outputs: %w", err)}
	}
	g.ind = ind
	g.closers = append(g.closers, func() { ind.Close() }) // every output back to its safe state
	wall := g.o.clock
	if wall == nil {
		wall = checkpoint.SystemClock{}
	}
	db, err := cache.OpenOrRecover(ctx, g.cfg.Cache.Path, cache.Options{MaxAge: g.cfg.Cache.MaxAge.D(), Logger: g.log, Clock: wall, MaxPages: g.o.maxPages})
	if err != nil {
		ind.Idle(checkpoint.IdleFault)
		return startupError{err}
	}
	g.db = db
	g.closers = append(g.closers, func() { db.Close() })
	// Never earlier than the newest verified feed time, and still running
	// while the wall clock lags behind it.
	g.clock = &checkpoint.RunningFloorClock{Clock: wall, Floor: db.FeedTime}
	if g.rules, err = siteRules(ctx, g.cfg.Policy, db, g.log); err != nil {
		ind.Idle(checkpoint.IdleFault)
		return configError{err}
	}
	src, err := g.openSource()
	var ce configError
	switch {
	case errors.As(err, &ce):
		ind.Idle(checkpoint.IdleFault)
		return fmt.Errorf("camera: %w", err)
	case err != nil:
		ind.Idle(checkpoint.IdleFault)
		return startupError{fmt.Errorf("camera: %w", err)}
	}
	if src != nil {
		g.src = src
		g.closers = append(g.closers, func() { src.Close() })
	}
	return nil
}

// close waits for the goroutines and closes what open opened, newest first.
func (g *gate) close() {
	g.wg.Wait()
	for i := len(g.closers) - 1; i >= 0; i-- {
		g.closers[i]()
	}
}

// goRun runs f in a goroutine that close waits for.
func (g *gate) goRun(f func()) {
	g.wg.Add(1)
	go func() { defer g.wg.Done(); f() }()
}

// scanner builds the frame loop with its event log, decoder pipeline,
// background sync and operator screen.
func (g *gate) scanner(ctx context.Context) (*checkpoint.Scanner, error) {
	cfg := g.cfg
	events := cache.NewEventLog(g.db, cache.EventLogOptions{Gate: cfg.Gate, Direction: cfg.Direction, Retention: cfg.Events.Retention.D(), Clock: g.clock, Logger: g.log})
	g.goRun(func() { events.Run(ctx) })

	// With several workers, frames are decoded in parallel ahead of the
	// loop and handed on in order; with one, the loop decodes each itself.
	var frames checkpoint.Source = g.src
	var dec checkpoint.Decoder = decode.New(decode.Options{Workers: cfg.Decode.Workers, Budget: cfg.Decode.Budget.D()})
	if cfg.Decode.Workers > 1 && g.src != nil {
		p := dec.(*decode.Decoder).Pipeline(ctx, g.src)
		g.closers = append(g.closers, func() { p.Close() })
		frames, dec = p, p
	}
	judge := &swapJudge{}
	judge.cur.Store(&policy.Judge{Store: g.db, Rules: g.rules, Stale: g.db.Stale, List: g.db, ListCurrent: g.listCurrent,
		Pairs: pairing(cfg.Policy), Logger: g.log})
	syncStats, err := g.startSync(ctx, judge)
	if err != nil {
		return nil, err
	}
	s := &checkpoint.Scanner{
		Source:       frames,
		Decoder:      dec,
		Parser:       &credential.Parser{Trust: g.db, Clock: g.clock},
		Judge:        judge,
		Indicator:    g.ind,
		Clock:        g.clock,
		Logger:       g.log,
		Cooldown:     cfg.Policy.Cooldown.D(),
		StallTimeout: cfg.Camera.StallTimeout.D(),
		Stale:        g.stale,
		Fault:        g.db.Rebuilding,
		Heartbeat:    g.notifier.Heartbeat,
		FirstFrame:   func() { g.started.Store(true); g.notifier.Ready() },
		Observers:    []checkpoint.Observer{events},
	}
	g.withCameraOff(s)
	g.startInputs(ctx, s)
	if err := g.startWeb(ctx, s, syncStats, judge); err != nil {
		return nil, err
	}
	return s, nil
}

// startSync starts the background sync when feed.url is set or sticks are
// taken (feed.stick, with the feed's root in place), and the judge's rule
// reloads after each new version. It returns the sync's counters for the
// operator screen (nil without a feed).
func (g *gate) startSync(ctx context.Context, judge *swapJudge) (func() web.SyncStats, error) {
	sticks := g.cfg.Feed.Stick != "" && fileExists(g.cfg.Feed.Root)
	if g.cfg.Feed.URL == "" && !sticks {
		g.goRun(func() { g.ignoreSticks(ctx) })
		return nil, nil
	}
	fo, err := feedOptions(g.cfg.Feed, g.cfg.Cache.Path, g.log)
	if err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	fo.Clock = g.clock // what NewSyncer defaults to, on the daemon's wall clock
	fo.Site = g.cfg.Site
	fo.AfterDirectory = g.stickDone
	fo.Firmware = firmwareOptions(ctx, g.cfg, g.log)
	syncer, err := feed.NewSyncer(g.db, fo)
	if err != nil {
		return nil, configError{fmt.Errorf("feed: %w", err)}
	}
	g.goRun(func() { syncer.Run(ctx) })
	g.goRun(func() { judge.follow(ctx, g.db, g.cfg.Policy, g.log) })
	g.goRun(func() { g.takeSticks(ctx, syncer) })
	fw := &firmwareReport{}
	if fo.Firmware != nil {
		g.goRun(func() { fw.watch(ctx, g.cfg, g.db, g.clock, g.log) })
	}
	return func() web.SyncStats {
		st := syncer.Stats()
		note, failures := fw.get()
		return web.SyncStats{Version: st.Version, Errors: st.Failures, LastSuccess: st.LastSuccess, Stick: stickNote(st.Directory),
			Firmware: note, FirmwareFailures: failures}
	}, nil
}

// startWeb starts the operator screen when web.listen is set. Its address
// is claimed now: a daemon whose screen cannot listen does not start (the
// demo goes on without it, saying so).
func (g *gate) startWeb(ctx context.Context, s *checkpoint.Scanner, syncStats func() web.SyncStats, judge *swapJudge) error {
	w := g.cfg.Web
	if w.Listen == "" {
		return nil
	}
	srv, err := web.New(web.Options{Listen: w.Listen, Token: w.Token, Preview: w.Preview, Gate: g.cfg.Gate,
		Scanner: s, Camera: g.src, Cache: g.db, Sync: syncStats, Clock: g.clock, Logger: g.log, Stall: g.cfg.Camera.StallTimeout.D(),
		Enter: submitTyped(s), Vietnamese: judge.Vietnamese, Direction: g.cfg.Direction, Passages: g.passages, CameraOff: g.cameraOff})
	if err != nil {
		return configError{fmt.Errorf("operator screen: %w", err)}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", w.Listen)
	if err != nil {
		if g.o.demo {
			fmt.Fprintf(g.e.stdout, "operator screen: not started: %s\n", listenProblem(w.Listen, err))
			return nil
		}
		return fmt.Errorf("web.listen: %s", listenProblem(w.Listen, err))
	}
	if g.o.demo {
		fmt.Fprintf(g.e.stdout, "operator screen: http://%s/\n", ln.Addr())
	}
	s.Observers = append(s.Observers, srv)
	g.goRun(func() {
		if err := srv.Serve(ctx, ln); err != nil && ctx.Err() == nil {
			// The gate keeps scanning without its screen.
			g.log.Error("operator screen stopped", "err", err)
		}
	})
	return nil
}

// listenProblem says why an address could not be listened on, in words a
// technician acts on.
func listenProblem(addr string, err error) string {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Sprintf("%s is already in use by another program (another checkpoint?); stop it or choose another address", addr)
	}
	return fmt.Sprintf("cannot listen on %s: %v", addr, err)
}

// run runs the frame loop until ctx is done (or a replay ends).
func (g *gate) run(ctx context.Context, s *checkpoint.Scanner) error {
	var printer *latencyPrinter
	if g.o.demo {
		printer = &latencyPrinter{w: g.e.stdout}
		s.Observers = append(s.Observers, printer)
	}
	err := s.Run(ctx)
	g.notifier.Stopping()
	if g.o.demo && ctx.Err() == nil {
		// Let the last verdict's pattern finish before the outputs go safe.
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		g.ind.Wait(wctx)
		wcancel()
	}
	if printer != nil && g.src != nil {
		printer.summary(s.Stats(), g.src.Stats())
	}
	if err != nil && !g.started.Load() {
		return startupError{err}
	}
	return err
}
