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
	"strings"
	"syscall"
	"testing"
	"time"

	"checkpoint/cache"
	"checkpoint/feed/format"
	"checkpoint/feed/publish"
	"checkpoint/internal/stall"
)

// TestScaleReport measures the feed at national scale and prints the
// "Cache and feed" table of BENCHMARKS.md. It only runs when
// CHECKPOINT_BENCH_KEYS is set (make bench-cache sets 10000000); the delta
// changes a tenth of the keys (CHECKPOINT_BENCH_DELTA overrides).
func TestScaleReport(t *testing.T) {
	n := envInt("CHECKPOINT_BENCH_KEYS", 0)
	if n == 0 {
		t.Skip("set CHECKPOINT_BENCH_KEYS (make bench-cache) to run")
	}
	nd := envInt("CHECKPOINT_BENCH_DELTA", n/10)
	dir := os.Getenv("CHECKPOINT_BENCH_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else {
		os.RemoveAll(dir)
		os.MkdirAll(dir, 0o755)
		defer os.RemoveAll(dir)
	}
	ctx := context.Background()
	var rep []string
	row := func(what, value string) { rep = append(rep, fmt.Sprintf("| %s | %s |", what, value)) }
	// The machine's own stalls bound every latency below: probed first and last.
	row("machine, at the start (2 s probe)", stall.Probe(2*time.Second).String())

	// Inputs: n keys; then a tenth of them changed (half new statuses, a
	// quarter removed, a quarter added).
	// v3 changes another tenth; v4 a sixteenth, which stays in the delta
	// table (a merge takes more), so lookups are measured with it at its
	// largest.
	csv1, csv2, csv3, csv4 := filepath.Join(dir, "v1.csv"), filepath.Join(dir, "v2.csv"), filepath.Join(dir, "v3.csv"), filepath.Join(dir, "v4.csv")
	d2, d3 := deltaSpec{changes: nd, prefix: "N"}, deltaSpec{changes: nd, start: nd, prefix: "M"}
	d4 := deltaSpec{changes: n / 16, start: 2 * nd, prefix: "P"}
	writeCSV(t, csv1, n)
	writeCSV(t, csv2, n, d2)
	writeCSV(t, csv3, n, d2, d3)
	writeCSV(t, csv4, n, d2, d3, d4)

	f := &testFeed{t: t, dir: filepath.Join(dir, "feed"), clk: clocktest.New(t0)}
	if err := publish.Init(f.dir, publish.InitOptions{Clock: f.clk}); err != nil {
		t.Fatal(err)
	}
	f.opts = publish.Options{Clock: f.clk}
	publishCSV := func(csv string) (time.Duration, *format.Manifest) {
		fh, err := os.Open(csv)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		start := time.Now()
		m, err := publish.Publish(ctx, f.dir, publish.Inputs{Statuses: bufio.NewReaderSize(fh, 1<<20)}, f.opts)
		if err != nil {
			t.Fatal(err)
		}
		return time.Since(start), m
	}
	pt1, m1 := publishCSV(csv1)
	snapBytes := targetBytes(t, f, m1.Snapshot)
	row(fmt.Sprintf("publish snapshot, %s keys", si(n)), fmt.Sprintf("%.1f s (%s keys/s)", pt1.Seconds(), si(int(float64(n)/pt1.Seconds()))))
	row("snapshot download size", fmt.Sprintf("%s (%.1f bytes/key, %d chunks)", mib(snapBytes), float64(snapBytes)/float64(n), len(m1.Snapshot)))

	srv := serveDir(t, filepath.Join(f.dir, "repo"))
	gate := filepath.Join(dir, "gate")
	os.MkdirAll(gate, 0o755)
	db, err := cache.Open(ctx, filepath.Join(gate, "cache.db"), cache.Options{Clock: f.clk})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := NewSyncer(db, Options{URL: srv, Root: readFile(t, filepath.Join(f.dir, "repo", "root.json")), Dir: filepath.Join(gate, "feed"), Clock: f.clk})
	if err != nil {
		t.Fatal(err)
	}
	// The publisher's files (CSV, signed chunks) would otherwise be written
	// back to disk by the kernel during the gate's measurements below: on a
	// 2-core machine that lengthens the lookup tail several times and slows
	// the apply. A gate has no publisher beside it, so flush them first.
	syscall.Sync()
	var began, written time.Time
	var tRead, tDecode, tWrite time.Duration
	s.chunkDone = func(r, d, w time.Duration) { tRead += r; tDecode += d; tWrite += w }
	s.afterBegin = func() { began = time.Now() }
	s.beforeCommit = func() { written = time.Now() }
	res, err := s.Sync(ctx)
	if err != nil || res.Mode != "snapshot" {
		t.Fatalf("snapshot sync: %+v %v", res, err)
	}
	apply := time.Since(began)
	row("sync snapshot (download, verify, apply)", fmt.Sprintf("%.1f s", res.Duration.Seconds()))
	row("apply snapshot (one transaction, to commit)", fmt.Sprintf("%.1f s (commit %.1f s): **%s keys/s**", apply.Seconds(), time.Since(written).Seconds(), si(int(float64(n)/apply.Seconds()))))
	row("apply snapshot, of which", breakdown(tRead, tDecode, tWrite, time.Since(written)))
	snapApply := apply
	size1, _ := dbSize(t, db)
	row(fmt.Sprintf("cache file at %s keys", si(n)), fmt.Sprintf("%s: **%.1f bytes/key**", mib(size1), float64(size1)/float64(n)))
	row(fmt.Sprintf("lookup at %s keys (200k random, ½ present, steady state)", si(n)), lookups(t, db, n, 200000).String())

	// Each delta: publish it, then sync it while lookups run (one every
	// ~100 µs, a busy gate). The apply ends at its commit; the merge of the
	// delta table into the base, when the sync runs one, is timed apart.
	delta := func(csv, name string) {
		pt, m := publishCSV(csv)
		d := m.Deltas[len(m.Deltas)-1]
		deltaBytes := targetBytes(t, f, d.Chunks)
		row(fmt.Sprintf("publish %s, %s changes over %s keys", name, si(int(d.Changes)), si(n)), fmt.Sprintf("%.1f s", pt.Seconds()))
		row(name+" download size", fmt.Sprintf("%s (%.1f bytes/change)", mib(deltaBytes), float64(deltaBytes)/float64(d.Changes)))
		var lat []time.Duration
		stop := make(chan struct{})
		done := make(chan struct{})
		s.afterBegin = func() {
			began = time.Now()
			go func() { // lookups while the delta applies
				defer close(done)
				r := rand.New(rand.NewPCG(3, 4))
				for {
					select {
					case <-stop:
						return
					default:
					}
					k := fmt.Sprintf("Q%d", r.IntN(n))
					t0 := time.Now()
					if _, _, err := db.Status(ctx, k); err != nil {
						t.Error(err)
						return
					}
					lat = append(lat, time.Since(t0))
					time.Sleep(100 * time.Microsecond) // a busy gate, not a saturated core
				}
			}()
		}
		s.beforeCommit = func() { close(stop); <-done; written = time.Now() }
		var committed time.Time
		s.afterCommit = func() { committed = time.Now() }
		syscall.Sync() // as before the snapshot: not the publisher's writeback
		tRead, tDecode, tWrite = 0, 0, 0
		res, err := s.Sync(ctx)
		if err != nil || res.Mode != "delta" {
			t.Fatalf("%s sync: %+v %v", name, res, err)
		}
		apply := committed.Sub(began)
		row("sync "+name+" (download, verify, apply, merge)", fmt.Sprintf("%.1f s", res.Duration.Seconds()))
		row("apply "+name+" (one transaction, to commit)", fmt.Sprintf("%.2f s (commit %.2f s): **%s keys/s**", apply.Seconds(), committed.Sub(written).Seconds(), si(int(float64(res.Applied)/apply.Seconds()))))
		row("apply "+name+", of which", breakdown(tRead, tDecode, tWrite, committed.Sub(written)))
		if len(lat) > 0 {
			slices.Sort(lat)
			row("lookups while "+name+" applies", fmt.Sprintf("%d lookups: p50 %s, p99 %s, max %s", len(lat), us(lat[len(lat)/2]), us(lat[len(lat)*99/100]), us(lat[len(lat)-1])))
		}
		if res.Merged > 0 {
			row("merge after "+name+" (delta table into the base, one transaction)", fmt.Sprintf("%s rows in %.1f s (%s rows/s)", si(int(res.Merged)), res.MergeDuration.Seconds(), si(int(float64(res.Merged)/res.MergeDuration.Seconds()))))
		} else {
			row("merge after "+name, "none: the delta table holds at most a sixteenth of the base")
		}
		used, free := dbSize(t, db)
		c, _ := db.Count(ctx)
		row(fmt.Sprintf("cache file after %s (%s keys, %s rows in the delta table)", name, si(int(c.Statuses)), si(int(c.Deltas))),
			fmt.Sprintf("%s in use: **%.1f bytes/key**; with %s of free pages: %.1f bytes/key", mib(used), float64(used)/float64(c.Statuses), mib(free), float64(used+free)/float64(c.Statuses)))
		row("lookup after "+name, lookups(t, db, n, 200000).String())
	}
	delta(csv2, "delta 1")
	delta(csv3, "delta 2")
	delta(csv4, "delta 3")
	db.Close()
	start := time.Now()
	db2, err := cache.Open(ctx, db.Path(), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	row("open with quick_check (start-up)", fmt.Sprintf("%.1f s", time.Since(start).Seconds()))
	db2.Close()

	row("machine, at the end (2 s probe)", stall.Probe(2*time.Second).String())

	// 100M, extrapolated: sizes scale linearly; apply rate holds (sorted
	// appends); a lookup walks one more B-tree level.
	scale := 1e8 / float64(n)
	row("**100M keys (extrapolated)**: snapshot download", mib(int64(float64(snapBytes)*scale)))
	row("**100M keys (extrapolated)**: cache file", mib(int64(float64(size1)*scale)))
	row("**100M keys (extrapolated)**: snapshot publish / apply", fmt.Sprintf("%.0f s / %.0f s", pt1.Seconds()*scale, snapApply.Seconds()*scale))
	fmt.Printf("\nCache and feed: %s keys, delta %s changes, %s, GOMAXPROCS %d\n\n| what | measured |\n|---|---|\n%s\n\n",
		si(n), si(nd), runtime.GOARCH, runtime.GOMAXPROCS(0), strings.Join(rep, "\n"))
}

// breakdown formats where an apply's time went.
func breakdown(read, decode, write, commit time.Duration) string {
	return fmt.Sprintf("read back and hash-check %.2f s, decode %.2f s, write rows %.2f s, commit %.2f s", read.Seconds(), decode.Seconds(), write.Seconds(), commit.Seconds())
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
	c, err := sql.Open("sqlite3", "file:"+db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var freePages, pages, size int64
	c.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)")
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

// String formats l for the report: the target is the one pass's p99.
func (l lookupStats) String() string {
	return fmt.Sprintf("p50 %s, **p99 %s**, p99.9 %s; each key's fastest of 3 passes: p50 %s, p99 %s",
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

func us(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d)/1e3) }
