package feed

import (
	"bufio"
	"checkpoint/clocktest"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"checkpoint/cache"
	"checkpoint/feed/format"
	"checkpoint/feed/publish"
	"checkpoint/internal/memlimit"
	"checkpoint/internal/stall"
)

// TestScaleReport measures the feed at national scale and prints the
// "Cache and feed" tables of BENCHMARKS.md. It only runs when
// CHECKPOINT_BENCH_KEYS is set (make bench-cache). Two deltas change
// CHECKPOINT_BENCH_DELTA keys each (default a tenth of the keys, at most 1M);
// then whatever runs are left are merged; then CHECKPOINT_BENCH_DAY hourly
// deltas (default 24 up to 10M keys, else 0) change a hundredth of the keys
// in all. Bytes written to the device come from /proc/self/io.
func TestScaleReport(t *testing.T) {
	n := envInt("CHECKPOINT_BENCH_KEYS", 0)
	if n == 0 {
		t.Skip("set CHECKPOINT_BENCH_KEYS (make bench-cache) to run")
	}
	memlimit.Set() // as the checkpoint binary does: the publisher holds ~15 GB live at 100M keys
	b := newScaleBench(t, n)
	defer b.close()
	b.row("machine, at the start (2 s probe)", stall.Probe(2*time.Second).String())
	b.snapshot()
	nd := envInt("CHECKPOINT_BENCH_DELTA", min(n/10, 1000000))
	b.delta("delta 1", deltaSpec{changes: nd, prefix: "N"})
	b.delta("delta 2", deltaSpec{changes: nd, start: nd, prefix: "M"})
	b.merge()
	if hours := envIntOr("CHECKPOINT_BENCH_DAY", map[bool]int{true: 24, false: 0}[n <= 10000000]); hours > 0 {
		b.day(hours, 2*nd)
	}
	b.touch()
	b.events()
	b.reopen()
	b.row("machine, at the end (2 s probe)", stall.Probe(2*time.Second).String())
	fmt.Printf("\nCache and feed: %s keys, deltas of %s changes, %s, GOMAXPROCS %d\n\n| what | measured |\n|---|---|\n%s\n\n",
		si(n), si(nd), runtime.GOARCH, runtime.GOMAXPROCS(0), strings.Join(b.rep, "\n"))
}

// scaleBench is the state of one TestScaleReport run.
type scaleBench struct {
	t        *testing.T
	ctx      context.Context
	n        int
	dir      string
	f        *testFeed
	specs    []deltaSpec // the changes published so far
	db       *cache.DB
	s        *Syncer
	rowBytes float64 // the base's bytes per key after the snapshot: a changed row's size
	loop     *loopFS // the gate's folder's own file system, or nil (scaledev_test.go)
	rep      []string
}

func newScaleBench(t *testing.T, n int) *scaleBench {
	b := &scaleBench{t: t, ctx: context.Background(), n: n, dir: os.Getenv("CHECKPOINT_BENCH_DIR")}
	if b.dir == "" {
		b.dir = t.TempDir()
	} else {
		os.RemoveAll(b.dir)
		os.MkdirAll(b.dir, 0o755)
	}
	b.f = &testFeed{t: t, dir: filepath.Join(b.dir, "feed"), clk: clocktest.New(t0)}
	if err := publish.Init(b.f.dir, publish.InitOptions{Clock: b.f.clk}); err != nil {
		t.Fatal(err)
	}
	b.f.opts = publish.Options{Clock: b.f.clk}
	return b
}

func (b *scaleBench) close() {
	if b.db != nil {
		b.db.Close()
	}
	if b.loop != nil {
		b.loop.close()
	}
	if os.Getenv("CHECKPOINT_BENCH_DIR") != "" {
		os.RemoveAll(b.dir)
	}
}

func (b *scaleBench) row(what, value string) {
	b.rep = append(b.rep, fmt.Sprintf("| %s | %s |", what, value))
}

// publish writes the CSV of every change so far (and specs) and publishes
// it; the CSV is removed after.
func (b *scaleBench) publish(specs ...deltaSpec) (time.Duration, *format.Manifest) {
	b.specs = append(b.specs, specs...)
	csv := filepath.Join(b.dir, "statuses.csv")
	writeCSV(b.t, csv, b.n, b.specs...)
	defer os.Remove(csv)
	fh, err := os.Open(csv)
	if err != nil {
		b.t.Fatal(err)
	}
	defer fh.Close()
	start := time.Now()
	m, err := publish.Publish(b.ctx, b.f.dir, publish.Inputs{Statuses: bufio.NewReaderSize(fh, 1<<20)}, b.f.opts)
	if err != nil {
		b.t.Fatal(err)
	}
	return time.Since(start), m
}

// snapshot publishes the first version and syncs it into an empty cache.
func (b *scaleBench) snapshot() {
	pt, m := b.publish()
	snapBytes := targetBytes(b.t, b.f, m.Snapshot)
	b.row(fmt.Sprintf("publish snapshot, %s keys", si(b.n)), fmt.Sprintf("%.1f s (%s keys/s)", pt.Seconds(), si(int(float64(b.n)/pt.Seconds()))))
	b.row("snapshot download size", fmt.Sprintf("%s (%.1f bytes/key, %d chunks)", mib(snapBytes), float64(snapBytes)/float64(b.n), len(m.Snapshot)))
	srv := serveDir(b.t, filepath.Join(b.f.dir, "repo"))
	gate := filepath.Join(b.dir, "gate")
	os.MkdirAll(gate, 0o755)
	b.loop = mountLoop(b.t, filepath.Join(b.dir, "gate.img"), gate, max(4<<30, int64(b.n)*160))
	var err error
	if b.db, err = cache.Open(b.ctx, filepath.Join(gate, "cache.db"), cache.Options{Clock: b.f.clk}); err != nil {
		b.t.Fatal(err)
	}
	b.s, err = NewSyncer(b.db, Options{URL: srv, Root: readFile(b.t, filepath.Join(b.f.dir, "repo", "root.json")), Dir: filepath.Join(gate, "feed"), Clock: b.f.clk})
	if err != nil {
		b.t.Fatal(err)
	}
	sy := b.sync("snapshot", nil)
	b.row("sync snapshot (download, verify, apply)", fmt.Sprintf("%.1f s", sy.res.Duration.Seconds()))
	b.row("apply snapshot (one transaction, to commit)", fmt.Sprintf("%.1f s (commit %.1f s): **%s keys/s**", sy.apply.Seconds(), sy.commit.Seconds(), si(int(float64(b.n)/sy.apply.Seconds()))))
	b.row("apply snapshot, of which", sy.breakdown())
	used, free := dbSize(b.t, b.db)
	b.rowBytes = float64(used) / float64(b.n)
	b.row(fmt.Sprintf("cache file at %s keys", si(b.n)), fmt.Sprintf("%s: **%.1f bytes/key** (%s of free pages)", mib(used), b.rowBytes, mib(free)))
	b.row("snapshot: written to the device", sy.io.String(float64(b.n), "key", b.rowBytes))
	b.row(fmt.Sprintf("lookup at %s keys (200k random, ½ present, steady state)", si(b.n)), lookups(b.t, b.db, b.n, 200000).String())
}

// delta publishes one round of changes and syncs it while lookups run (one
// every ~100 µs, a busy gate).
func (b *scaleBench) delta(name string, spec deltaSpec) {
	pt, m := b.publish(spec)
	d := m.Deltas[len(m.Deltas)-1]
	deltaBytes := targetBytes(b.t, b.f, d.Chunks)
	b.row(fmt.Sprintf("publish %s, %s changes over %s keys", name, si(int(d.Changes)), si(b.n)), fmt.Sprintf("%.1f s", pt.Seconds()))
	b.row(name+" download size", fmt.Sprintf("%s (%.1f bytes/change)", mib(deltaBytes), float64(deltaBytes)/float64(d.Changes)))
	var lat []time.Duration
	sy := b.sync("delta", func() func() {
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			r := rand.New(rand.NewPCG(3, 4))
			for {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				if _, _, err := b.db.Status(b.ctx, fmt.Sprintf("Q%d", r.IntN(b.n))); err != nil {
					b.t.Error(err)
					return
				}
				lat = append(lat, time.Since(t0))
				time.Sleep(100 * time.Microsecond)
			}
		}()
		return func() { close(stop); <-done }
	})
	b.row("sync "+name+" (download, verify, apply, housekeeping)", fmt.Sprintf("%.1f s", sy.res.Duration.Seconds()))
	b.row("apply "+name+" (one transaction, to commit)", fmt.Sprintf("%.2f s (commit %.2f s): **%s keys/s**", sy.apply.Seconds(), sy.commit.Seconds(), si(int(float64(sy.res.Applied)/sy.apply.Seconds()))))
	b.row("apply "+name+", of which", sy.breakdown())
	if len(lat) > 0 {
		slices.Sort(lat)
		b.row("lookups while "+name+" applies", fmt.Sprintf("%d lookups: p50 %s, p99 %s, max %s", len(lat), us(lat[len(lat)/2]), us(lat[len(lat)*99/100]), us(lat[len(lat)-1])))
	}
	b.row("housekeeping after "+name, sy.housekeeping())
	b.row(name+": written to the device", sy.io.String(float64(d.Changes), "change", b.rowBytes))
	b.fileRow("after " + name)
	b.row("lookup after "+name, lookups(b.t, b.db, b.n, 200000).String())
}

// merge folds what runs are left into the base.
func (b *scaleBench) merge() {
	c, err := b.db.Count(b.ctx)
	if err != nil || c.Deltas == 0 {
		b.row("merge of the runs left", "none left")
		return
	}
	syscall.Sync()
	dev := b.devWritten()
	pin := b.pinWAL()
	before := readIO(b.t)
	ms, err := b.db.MergeDeltas(b.ctx, true)
	if err != nil {
		b.t.Fatal(err)
	}
	merged := readIO(b.t)
	pin()
	if err := b.db.CheckpointPassive(b.ctx); err != nil {
		b.t.Fatal(err)
	}
	io := syncIO{merge: merged.sub(before), checkpoint: readIO(b.t).sub(merged), device: b.devSince(dev)}
	b.row(fmt.Sprintf("merge, forced (%d runs, %s rows, into %s keys)", ms.Runs, si(int(ms.Rows)), si(b.n)), fmt.Sprintf("%.1f s (%s rows/s)", ms.Duration.Seconds(), si(int(float64(ms.Rows)/ms.Duration.Seconds()))))
	b.row("merge: written to the device", io.String(float64(ms.Rows), "row merged", b.rowBytes)+fmt.Sprintf("; %.1f bytes per key of the base", float64(io.net())/float64(ms.Base)))
	b.fileRow("after the merge")
	b.row("lookup after the merge", lookups(b.t, b.db, b.n, 200000).String())
}

// day publishes and syncs hours deltas, a hundredth of the keys in all.
func (b *scaleBench) day(hours, start int) {
	per := max(b.n/100/hours, 4)
	var total syncIO
	var changes, merges, compactions int64
	var apply time.Duration
	for h := range hours {
		_, m := b.publish(deltaSpec{changes: per, start: start + h*per, prefix: fmt.Sprintf("H%d.", h)})
		sy := b.sync("delta", nil)
		total.add(sy.io)
		changes += m.Deltas[len(m.Deltas)-1].Changes
		apply += sy.apply
		if sy.res.Merged > 0 {
			merges++
		}
		if sy.res.Compacted > 0 {
			compactions++
		}
	}
	name := fmt.Sprintf("a day: %d hourly deltas of %s changes", hours, si(per))
	b.row(name+", apply", fmt.Sprintf("%.2f s in all (%s keys/s); %d merges, %d compactions", apply.Seconds(), si(int(float64(changes)/apply.Seconds())), merges, compactions))
	b.row(name+": written to the device", total.String(float64(changes), "change", b.rowBytes))
	b.fileRow("after the day")
	b.row("lookup after the day", lookups(b.t, b.db, b.n, 200000).String())
}

// touch measures a sync that finds nothing new (every 5 minutes by default).
func (b *scaleBench) touch() {
	sy := b.sync("none", nil)
	b.row("a sync with nothing new (Touch): written to the device", fmt.Sprintf("%s (download %s, write %s, checkpoint %s)%s",
		kib(sy.io.net()), kib(sy.io.download.write), kib(sy.io.apply.write+sy.io.merge.write), kib(sy.io.checkpoint.write), devKiB(sy.io.device, 1)))
}

// events measures the event log's writes: one entry per transaction, as a
// gate scanning one code at a time writes them, first each checkpointed
// alone (entries farther apart than the checkpoint window), then 10 sharing
// each checkpoint (a busy gate: one entry every 3 s in a 30 s window).
func (b *scaleBench) events() {
	for _, per := range []int{1, 10} {
		const k = 200
		syscall.Sync()
		dev := b.devWritten()
		before := readIO(b.t)
		for i := range k {
			e := cache.Event{Time: t0.Add(time.Duration(i) * time.Second), Gate: "gate-1", Format: "1405", Verdict: 2, Reasons: []string{"status green"}, KeyHash: strings.Repeat("ab", 16)}
			if err := b.db.LogEvent(b.ctx, e); err != nil {
				b.t.Fatal(err)
			}
			if (i+1)%per == 0 {
				if err := b.db.CheckpointPassive(b.ctx); err != nil {
					b.t.Fatal(err)
				}
			}
		}
		io := readIO(b.t).sub(before)
		dev = b.devSince(dev)
		what := "an event logged (one a transaction, each checkpointed alone)"
		if per > 1 {
			what = fmt.Sprintf("an event logged (one a transaction, %d to a checkpoint)", per)
		}
		b.row(what+": written to the device", fmt.Sprintf("%s per event%s", kib((io.write-io.cancelled)/k), devKiB(dev, k)))
	}
}

// reopen times opening the file with quick_check, as a gate starts.
func (b *scaleBench) reopen() {
	b.db.Close()
	start := time.Now()
	db, err := cache.Open(b.ctx, b.db.Path(), cache.Options{})
	if err != nil {
		b.t.Fatal(err)
	}
	b.row("open with quick_check (start-up)", fmt.Sprintf("%.1f s", time.Since(start).Seconds()))
	db.Close()
	b.db = nil
}

// devWritten is what the gate's device has been sent so far, after a sync
// (-1: not measured).
func (b *scaleBench) devWritten() int64 {
	if b.loop == nil {
		return -1
	}
	return b.loop.written(b.t)
}

// devSince is what the device has been sent since devWritten gave start
// (-1: not measured).
func (b *scaleBench) devSince(start int64) int64 {
	if start < 0 {
		return -1
	}
	return b.devWritten() - start
}

func (b *scaleBench) fileRow(when string) {
	used, free := dbSize(b.t, b.db)
	c, err := b.db.Count(b.ctx)
	if err != nil {
		b.t.Fatal(err)
	}
	b.row(fmt.Sprintf("cache file %s (%s keys, %s rows in runs)", when, si(int(c.Statuses)), si(int(c.Deltas))),
		fmt.Sprintf("%s in use: **%.1f bytes/key**; with %s of free pages: %.1f bytes/key", mib(used), float64(used)/float64(c.Statuses), mib(free), float64(used+free)/float64(c.Statuses)))
}

// scaleSync is what one measured sync did.
type scaleSync struct {
	res                    Result
	apply, commit          time.Duration
	tRead, tDecode, tWrite time.Duration
	io                     syncIO
}

func (sy *scaleSync) breakdown() string {
	return fmt.Sprintf("read back and hash-check %.2f s and decode %.2f s (beside the writes), write rows %.2f s, commit %.2f s", sy.tRead.Seconds(), sy.tDecode.Seconds(), sy.tWrite.Seconds(), sy.commit.Seconds())
}

func (sy *scaleSync) housekeeping() string {
	switch {
	case sy.res.Merged > 0:
		return fmt.Sprintf("merge: %s rows into the base in %.1f s", si(int(sy.res.Merged)), sy.res.MergeDuration.Seconds())
	case sy.res.Compacted > 0:
		return fmt.Sprintf("compaction of the newest runs: %s rows in %.1f s", si(int(sy.res.Compacted)), sy.res.MergeDuration.Seconds())
	}
	return "none: the runs hold at most 1/8 of the base"
}

// sync runs one sync of the given mode and measures it; during, if not nil,
// starts something to run while the rows are written and returns its stop.
// A reader on another connection holds the WAL while the sync runs, so
// that the checkpoint is measured apart; the checkpoint runs after.
func (b *scaleBench) sync(mode string, during func() func()) *scaleSync {
	sy := &scaleSync{}
	var began, written, committed time.Time
	var stop func()
	var ioBegun, ioCommitted ioCount
	b.s.chunkDone = func(r, d, w time.Duration) { sy.tRead += r; sy.tDecode += d; sy.tWrite += w }
	b.s.afterBegin = func() {
		ioBegun, began = readIO(b.t), time.Now()
		if during != nil {
			stop = during()
		}
	}
	b.s.beforeCommit = func() {
		if stop != nil {
			stop()
		}
		written = time.Now()
	}
	b.s.afterCommit = func() { committed, ioCommitted = time.Now(), readIO(b.t) }
	defer func() { b.s.chunkDone, b.s.afterBegin, b.s.beforeCommit, b.s.afterCommit = nil, nil, nil, nil }()
	// The publisher's files (CSV, signed chunks) would otherwise be written
	// back to disk by the kernel during the gate's measurements: a gate has
	// no publisher beside it.
	syscall.Sync()
	dev := b.devWritten()
	unpin := b.pinWAL()
	start := readIO(b.t)
	res, err := b.s.Sync(b.ctx)
	if err != nil || res.Mode != mode {
		b.t.Fatalf("%s sync: %+v %v", mode, res, err)
	}
	synced := readIO(b.t)
	unpin()
	if err := b.db.CheckpointPassive(b.ctx); err != nil {
		b.t.Fatal(err)
	}
	sy.res, sy.apply, sy.commit = res, committed.Sub(began), committed.Sub(written)
	if mode == "none" {
		ioBegun, ioCommitted = start, synced
	}
	sy.io = syncIO{download: ioBegun.sub(start), apply: ioCommitted.sub(ioBegun), merge: synced.sub(ioCommitted), checkpoint: readIO(b.t).sub(synced), device: b.devSince(dev)}
	return sy
}

// pinWAL holds a read transaction on another connection: the cache's
// checkpointer cannot copy WAL frames back meanwhile. It returns the release.
func (b *scaleBench) pinWAL() func() {
	raw, err := sql.Open("sqlite3", "file:"+b.db.Path()+"?mode=ro")
	if err != nil {
		b.t.Fatal(err)
	}
	tx, err := raw.Begin()
	if err != nil {
		b.t.Fatal(err)
	}
	var one int
	if err := tx.QueryRow("SELECT 1 FROM meta LIMIT 1").Scan(&one); err != nil {
		b.t.Fatal(err)
	}
	return func() { tx.Rollback(); raw.Close() }
}

// ioCount is this process's storage I/O so far (/proc/self/io): bytes it
// caused to be written (counted when a page is first dirtied), and bytes
// whose writing was cancelled (dirty pages of files truncated or removed
// before the kernel wrote them back).
type ioCount struct{ write, cancelled int64 }

func readIO(t *testing.T) ioCount {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatal(err)
	}
	var c ioCount
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(l, ": ")
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "write_bytes":
			c.write = n
		case "cancelled_write_bytes":
			c.cancelled = n
		}
	}
	return c
}

func (c ioCount) sub(o ioCount) ioCount { return ioCount{c.write - o.write, c.cancelled - o.cancelled} }

// syncIO is one sync's writes by phase.
type syncIO struct {
	download, apply, merge, checkpoint ioCount
	device                             int64 // bytes the gate's device was sent (-1: not measured)
}

func (s *syncIO) add(o syncIO) {
	for _, p := range []struct{ a, b *ioCount }{{&s.download, &o.download}, {&s.apply, &o.apply}, {&s.merge, &o.merge}, {&s.checkpoint, &o.checkpoint}} {
		p.a.write += p.b.write
		p.a.cancelled += p.b.cancelled
	}
	if s.device < 0 || o.device < 0 {
		s.device = -1
	} else {
		s.device += o.device
	}
}

func (s syncIO) net() int64 {
	var n int64
	for _, c := range []ioCount{s.download, s.apply, s.merge, s.checkpoint} {
		n += c.write - c.cancelled
	}
	return n
}

// String gives the net bytes per unit (a change, a key), their ratio to
// rowBytes, and the phases.
func (s syncIO) String(units float64, unit string, rowBytes float64) string {
	per := float64(s.net()) / units
	cancelled := s.download.cancelled + s.apply.cancelled + s.merge.cancelled + s.checkpoint.cancelled
	return fmt.Sprintf("%s: **%.0f bytes/%s, %.1f× a row's %.1f bytes**; of which download %s, the apply (its stage and WAL) %s, housekeeping (merge, compaction, stage) %s, checkpoint %s, less %s never written back",
		mib(s.net()), per, unit, per/rowBytes, rowBytes, mib(s.download.write), mib(s.apply.write), mib(s.merge.write), mib(s.checkpoint.write), mib(cancelled)) + s.deviceString(units, unit, rowBytes)
}

// deviceString gives what the device itself was sent, when measured.
func (s syncIO) deviceString(units float64, unit string, rowBytes float64) string {
	if s.device < 0 {
		return ""
	}
	per := float64(s.device) / units
	return fmt.Sprintf("; **the device itself was sent %s: %.0f bytes/%s, %.1f× a row** (ext4 on a loop device, its journal included)", mib(s.device), per, unit, per/rowBytes)
}

// deltaSpec is one round of changes to the keys Q0..Qn-1: from key start on,
// changes/2 keys get another status, the next changes/4 are left out, and
// changes/4 new keys named prefix0, prefix1... are added.
type deltaSpec struct {
	changes, start int
	prefix         string
}

// writeCSV writes keys Q0..Qn-1 with every round of changes in ds applied
// (rounds must not overlap).
func writeCSV(t *testing.T, path string, n int, ds ...deltaSpec) {
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(fh, 1<<20)
	colors := []string{"red", "yellow", "green"}
rows:
	for i := range n {
		c := colors[i%3]
		for _, d := range ds {
			switch j := i - d.start; {
			case j >= 0 && j < d.changes/2:
				c = colors[(i+1)%3]
			case j >= d.changes/2 && j < d.changes/2+d.changes/4:
				continue rows
			}
		}
		if i%5 == 0 {
			fmt.Fprintf(w, "Q%d,%s,2022-%02d-%02d\n", i, c, 1+i%12, 1+i%28)
		} else {
			fmt.Fprintf(w, "Q%d,%s,\n", i, c)
		}
	}
	for _, d := range ds {
		for i := range d.changes / 4 {
			fmt.Fprintf(w, "%s%d,green,\n", d.prefix, i)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	fh.Close()
}

func targetBytes(t *testing.T, f *testFeed, paths []string) int64 {
	var n int64
	for _, p := range paths {
		n += int64(len(readTarget(t, f, p)))
	}
	return n
}

func readFile(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func serveDir(t *testing.T, dir string) string {
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv.URL
}

// dbSize checkpoints the WAL and returns the bytes of the file's pages in
// use and of its free pages (kept for the file's next growth).
func dbSize(t *testing.T, db *cache.DB) (used, free int64) {
	if err := db.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := sql.Open("sqlite3", "file:"+db.Path()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var freePages, pages, size int64
	c.QueryRow("PRAGMA freelist_count").Scan(&freePages)
	c.QueryRow("PRAGMA page_count").Scan(&pages)
	c.QueryRow("PRAGMA page_size").Scan(&size)
	return (pages - freePages) * size, freePages * size
}

// lookupStats are the percentiles of one lookup measurement.
type lookupStats struct {
	p50, p99, p999 time.Duration // one timed pass
	minP50, minP99 time.Duration // each key's fastest of three passes
}

// String formats l for the report.
func (l lookupStats) String() string {
	return fmt.Sprintf("p50 %s, **p99 %s**, p99.9 %s; each key's fastest of 3 passes: p50 %s, **p99 %s**",
		us(l.p50), us(l.p99), us(l.p999), us(l.minP50), us(l.minP99))
}

// lookups times k lookups of random keys, half of them present, in steady
// state: after the WAL is checkpointed and a first pass has touched the pages.
// The first timed pass gives the percentiles a gate sees; the fastest of
// three passes per key takes out the machine's stalls (a stall hits a key in
// one pass, not in all three) and leaves what the lookup itself costs.
func lookups(t *testing.T, db *cache.DB, n, k int) lookupStats {
	ctx := context.Background()
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	syscall.Sync() // nothing left for the kernel to write back meanwhile
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([]string, k)
	for i := range keys {
		if i%2 == 0 {
			keys[i] = fmt.Sprintf("Q%d", r.IntN(n))
		} else {
			keys[i] = fmt.Sprintf("X%d", r.IntN(n))
		}
	}
	for _, key := range keys { // warm-up pass
		db.Status(ctx, key)
	}
	first := make([]time.Duration, k)
	fastest := make([]time.Duration, k)
	for pass := range 3 {
		for i, key := range keys {
			start := time.Now()
			_, _, err := db.Status(ctx, key)
			d := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			if pass == 0 {
				first[i], fastest[i] = d, d
			}
			fastest[i] = min(fastest[i], d)
		}
	}
	slices.Sort(first)
	slices.Sort(fastest)
	return lookupStats{first[k/2], first[k*99/100], first[k*999/1000], fastest[k/2], fastest[k*99/100]}
}

// envIntOr reads a non-negative integer from the environment, else def.
func envIntOr(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n >= 0 {
		return n
	}
	return def
}

func si(n int) string {
	switch {
	case n >= 1e6:
		return strings.TrimSuffix(fmt.Sprintf("%.2f", float64(n)/1e6), ".00") + "M"
	case n >= 1e3:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/1e3), ".0") + "k"
	}
	return fmt.Sprint(n)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// devKiB gives the device's bytes per unit, when measured (n >= 0).
func devKiB(n int64, units int64) string {
	if n < 0 {
		return ""
	}
	return fmt.Sprintf("; the device itself was sent %s", kib(n/units))
}

func kib(n int64) string { return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10)) }

func us(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d)/1e3) }
