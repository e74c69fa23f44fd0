package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"checkpoint/credential/hc1test"
)

// Growth margins of the soak, between the highest sample of the baseline
// window (25–50% of the run, after the warm-up) and the highest sample of
// the final window (the last quarter):
//
//   - goroutines +5: the steady set is fixed (frame loop, monitor, decoder
//     worker, replay producer, pattern player, event-log writer, syncer,
//     rule follower, web server); what comes and goes is a sync's HTTP
//     connection (a read and a write loop) and the sampler's own request.
//     Both windows catch such transients; a leak of one goroutine per sync
//     (every 2 s) or per verdict exceeds 5 within the 60 s run.
//   - open files +5: the cache's reader pool keeps up to four idle
//     connections, each with the database and its WAL open, and a sync holds
//     a TCP connection and a download file; a leak per sync or per verdict
//     exceeds 5 within the run.
//   - resident memory +max(15%, 12 MiB): Go returns freed heap to the OS
//     lazily and SQLite's page cache (32 MiB a connection at most) fills as
//     the event log grows, so RSS wanders by several MiB without a leak; a
//     leak of one frame buffer per second (300 KiB) exceeds it within the
//     60 s run, and the 10-minute curve in BENCHMARKS.md shows slower ones.
const (
	soakGoroutineMargin = 5
	soakFDMargin        = 5
	soakRSSMarginMiB    = 12
	soakRSSMarginFrac   = 0.15
)

// soakSample is one reading of the daemon's /metrics.
type soakSample struct {
	at                    time.Duration
	rss, heap             float64 // bytes
	goroutines, fds       float64
	frames, verdicts      float64
	version, syncFailures float64
}

// TestSoak runs the daemon binary (`checkpoint run --config`) for
// $CHECKPOINT_SOAK (60s in `make test`, 10m by default in `make soak`):
// the demo scene and an HC1 certificate replayed at full speed in a loop, a
// sync every 2 s against a loopback feed that is republished with changes
// (deltas, rule profiles) all along, and /metrics sampled for resident
// memory, goroutines and open files, which must stay flat (see the margins
// above). $CHECKPOINT_SOAK_REPORT names a file for the curve (markdown);
// $CHECKPOINT_BIN a prebuilt binary (default: go build).
func TestSoak(t *testing.T) {
	spec := os.Getenv("CHECKPOINT_SOAK")
	if spec == "" {
		t.Skip("set CHECKPOINT_SOAK to a duration (make test-soak runs 60s, make soak 10m)")
	}
	total, err := time.ParseDuration(spec)
	if err != nil || total < 20*time.Second {
		t.Fatalf("CHECKPOINT_SOAK=%q: want a duration of at least 20s", spec)
	}
	bin := checkpointBinary(t)
	run := binRunner(bin)

	is, err := hc1test.NewIssuer(hc1test.Options{Usages: []string{"v"}})
	if err != nil {
		t.Fatal(err)
	}
	f := newLoopFeed(t, run)
	version := 0
	publish := func() {
		version++
		// Every version changes the demo people's colours and moves a window
		// of 5,000 synthetic rows by 500 (a delta of 1,000 changes); every
		// other one brings a new rule profile.
		rows := demoRows(t)
		colors := []string{"green", "yellow", "red"}
		for i := range rows[:3] {
			k := strings.IndexByte(rows[i], ',')
			rows[i] = rows[i][:k+1] + colors[(i+version)%3] + ",2099-12-31"
		}
		for i := version * 500; i < version*500+5000; i++ {
			rows = append(rows, fmt.Sprintf("SOAK%07d,green,2099-12-31", i))
		}
		side := []string{}
		if version == 1 {
			side = append(side, "--trust-list", string(is.PEM()))
		}
		if version%2 == 1 {
			side = append(side, "--rules", rulesJSON(t, fmt.Sprintf("complete vaccination (profile %d)", version)))
		}
		f.publish(t, rows, side...)
	}
	publish()

	dir := t.TempDir()
	frames := writeFrames(t, filepath.Join(dir, "frames"), true, hc1Cert(t, is, time.Now()))
	listen := freeAddr(t)
	cfg := writeConfig(t, site{Frames: frames, FPS: 240, Loop: true, Cache: filepath.Join(dir, "cache.db"),
		Feed: f, Interval: "2s", Listen: listen})
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	}()
	logTail := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "stderr"))
		return tail(string(b), 4000)
	}
	web := "http://" + listen

	// Sample every 1/60 of the run (1 to 10 s); publish a new version every
	// sixth of it (at least every 10 s).
	step := min(max(total/60, time.Second), 10*time.Second)
	every := max(total/6, 10*time.Second)
	start := time.Now()
	for scrape(web, "") == nil {
		select {
		case err := <-exited:
			t.Fatalf("daemon exited at start: %v\n%s", err, logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Since(start) > waitLimit {
			t.Fatalf("no /metrics within %v\n%s", waitLimit, logTail())
		}
	}
	start = time.Now()
	var samples []soakSample
	nextPublish := every
	for at := time.Duration(0); at <= total; at = time.Since(start) {
		m := scrape(web, "")
		if m == nil {
			t.Fatalf("/metrics stopped answering at %v\n%s", at.Round(time.Second), logTail())
		}
		samples = append(samples, soakSample{
			at: at, rss: m["process_resident_memory_bytes"], heap: m["go_memstats_heap_inuse_bytes"],
			goroutines: m["go_goroutines"], fds: m["process_open_fds"],
			frames: m["checkpoint_frames_total"], verdicts: sumPrefix(m, "checkpoint_verdicts_total{"),
			version: m["checkpoint_feed_version"], syncFailures: m["checkpoint_sync_errors_total"],
		})
		if at >= nextPublish && at+every/2 < total {
			publish()
			nextPublish += every
		}
		select {
		case err := <-exited:
			t.Fatalf("daemon exited during the soak: %v\n%s", err, logTail())
		case <-time.After(step - time.Since(start)%step):
		}
	}
	// Every version reaches the gate before the end.
	deadline := time.Now().Add(waitLimit)
	for scrape(web, "")["checkpoint_feed_version"] != float64(version) {
		if time.Now().After(deadline) {
			t.Fatalf("feed version %d not applied within %v\n%s", version, waitLimit, logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := <-exited; err != nil {
		t.Errorf("daemon after SIGTERM: %v\n%s", err, logTail())
	}
	logs, _ := os.ReadFile(filepath.Join(dir, "stderr"))
	for _, l := range strings.Split(string(logs), "\n") {
		if strings.Contains(l, "level=ERROR") || strings.HasPrefix(l, "panic:") {
			t.Errorf("logged: %s", l)
		}
	}

	report := soakReport(samples, total, version)
	t.Log("\n" + report)
	if p := os.Getenv("CHECKPOINT_SOAK_REPORT"); p != "" {
		if err := os.WriteFile(p, []byte(report), 0o644); err != nil {
			t.Error(err)
		}
	}
	checkSoak(t, samples)
}

// checkSoak asserts the daemon kept working and its resources stayed flat.
func checkSoak(t *testing.T, s []soakSample) {
	t.Helper()
	if len(s) < 16 {
		t.Fatalf("only %d samples", len(s))
	}
	n := len(s)
	base, final := s[n/4:n/2], s[n*3/4:]
	peak := func(w []soakSample, v func(soakSample) float64) float64 {
		m := math.Inf(-1)
		for _, x := range w {
			m = max(m, v(x))
		}
		return m
	}
	for _, c := range []struct {
		what   string
		v      func(soakSample) float64
		margin func(base float64) float64
	}{
		{"goroutines", func(x soakSample) float64 { return x.goroutines }, func(float64) float64 { return soakGoroutineMargin }},
		{"open files", func(x soakSample) float64 { return x.fds }, func(float64) float64 { return soakFDMargin }},
		{"resident memory (bytes)", func(x soakSample) float64 { return x.rss }, func(b float64) float64 {
			return max(b*soakRSSMarginFrac, soakRSSMarginMiB<<20)
		}},
	} {
		b, f := peak(base, c.v), peak(final, c.v)
		if b <= 0 {
			t.Errorf("%s: no reading (is the series on /metrics?)", c.what)
			continue
		}
		if f > b+c.margin(b) {
			t.Errorf("%s grew from %.0f to %.0f, beyond the margin of %.0f", c.what, b, f, c.margin(b))
		}
	}
	// Still working at the end: frames decoded and verdicts given in the last quarter.
	if final[len(final)-1].frames <= final[0].frames || final[len(final)-1].verdicts <= final[0].verdicts {
		t.Errorf("the frame loop stalled in the last quarter: frames %.0f→%.0f, verdicts %.0f→%.0f",
			final[0].frames, final[len(final)-1].frames, final[0].verdicts, final[len(final)-1].verdicts)
	}
}

// sumPrefix adds the series whose names start with prefix.
func sumPrefix(m map[string]float64, prefix string) float64 {
	var s float64
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			s += v
		}
	}
	return s
}

// soakReport is the curve as markdown: a table of about 20 rows and an
// ASCII plot of resident memory.
func soakReport(s []soakSample, total time.Duration, versions int) string {
	var b strings.Builder
	last := s[len(s)-1]
	fmt.Fprintf(&b, "Soak of %v on %s/%s, %d CPUs: %d samples, %.0f frames decoded, %.0f verdicts, %d feed versions published and applied, %.0f failed syncs.\n\n",
		total, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), len(s), last.frames, last.verdicts, versions, last.syncFailures)
	b.WriteString("| t | RSS MiB | heap in use MiB | goroutines | open fds | frames | verdicts | feed version |\n|---|---|---|---|---|---|---|---|\n")
	stride := max(1, (len(s)+19)/20)
	for i := 0; i < len(s); i += stride {
		x := s[i]
		if i+stride >= len(s) {
			x = last
		}
		fmt.Fprintf(&b, "| %v | %.1f | %.1f | %.0f | %.0f | %.0f | %.0f | %.0f |\n", x.at.Round(time.Second), x.rss/(1<<20), x.heap/(1<<20),
			x.goroutines, x.fds, x.frames, x.verdicts, x.version)
	}
	// ASCII plot: one column per sample (at most 60); row r holds the
	// readings from its label up to the next row's.
	cols := min(len(s), 60)
	vals := make([]float64, cols)
	for c := range cols {
		vals[c] = s[c*len(s)/cols].rss / (1 << 20)
	}
	const rows = 10
	lo, hi := math.Floor(slices.Min(vals)), math.Floor(slices.Max(vals))+1
	step := (hi - lo) / rows
	b.WriteString("\n```\nRSS MiB\n")
	for r := rows - 1; r >= 0; r-- {
		fmt.Fprintf(&b, "%6.1f |", lo+step*float64(r))
		for _, v := range vals {
			if min(int((v-lo)/step), rows-1) == r {
				b.WriteByte('*')
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "       +%s\n        0%s%v\n```\n", strings.Repeat("-", cols), strings.Repeat(" ", max(0, cols-len(total.String())-1)), total)
	return b.String()
}
