package feed

import (
	"checkpoint/clocktest"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"checkpoint/cache"
)

// Environment of the child process of TestCrashDuringApply.
const (
	envChild = "CHECKPOINT_SYNC_CHILD"
	envDB    = "CHECKPOINT_SYNC_DB"
	envURL   = "CHECKPOINT_SYNC_URL"
	envRoot  = "CHECKPOINT_SYNC_ROOT"
	envDir   = "CHECKPOINT_SYNC_DIR"
	envNow   = "CHECKPOINT_SYNC_NOW"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(syncChild())
	}
	os.Exit(m.Run())
}

// syncChild is the child process: one sync of the cache at $CHECKPOINT_SYNC_DB.
func syncChild() int {
	now, _ := strconv.ParseInt(os.Getenv(envNow), 10, 64)
	clk := clocktest.New(time.Unix(0, now))
	ctx := context.Background()
	db, err := cache.Open(ctx, os.Getenv(envDB), cache.Options{Clock: clk, SkipCheck: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	root, err := os.ReadFile(os.Getenv(envRoot))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	s, err := NewSyncer(db, Options{URL: os.Getenv(envURL), Root: root, Dir: os.Getenv(envDir), Clock: clk})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	s.afterBegin = func() { fmt.Println("applying") }
	if _, err := s.Sync(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	db.Close()
	return 0
}

// statusDigest hashes every status of a cache file (base and delta tables,
// as lookups see them), with its version.
func statusDigest(t *testing.T, path string) (int64, string) {
	t.Helper()
	db, err := cache.Open(context.Background(), path, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := sha256.New()
	err = db.EachStatus(context.Background(), func(r cache.Record) error {
		fmt.Fprintf(h, "%x %d %d\n", r.Hash, r.Color, r.ValidUntil)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return db.Version(), hex.EncodeToString(h.Sum(nil))
}

func copyFile(t *testing.T, dst, src string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func copyTree(t *testing.T, dst, src string) {
	t.Helper()
	filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		copyFile(t, filepath.Join(dst, rel), p)
		return nil
	})
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// rowsFor returns n status rows Q0..Qn-1, with statuses varying by seed.
func rowsFor(n, seed int) []string {
	colors := []string{"green", "yellow", "red"}
	rows := make([]string, 0, n)
	for i := range n {
		c := colors[(i*7+seed*(i%5))%3]
		until := ""
		if (i+seed)%4 == 0 {
			until = fmt.Sprintf("2022-%02d-%02d", 1+(i+seed)%12, 1+i%28)
		}
		rows = append(rows, fmt.Sprintf("Q%d,%s,%s", i, c, until))
	}
	return rows
}

// TestCrashDuringApply kills a child process applying a large delta with
// SIGKILL at random points: every time, the file passes integrity_check and
// holds exactly the old or the new version, with matching contents.
// CHECKPOINT_CRASH_RUNS sets the number of kills (default 50).
func TestCrashDuringApply(t *testing.T) {
	runs := envInt("CHECKPOINT_CRASH_RUNS", 50)
	n := envInt("CHECKPOINT_CRASH_KEYS", 25000)
	f := newFeed(t)
	f.publish(rowsFor(n, 0))
	tmpl := f.device(t, cache.Options{})
	tmpl.sync(t)
	tmpl.db.Close()
	_, digest1 := statusDigest(t, tmpl.path)

	// v2: most rows change, a sixth go, a sixth are new.
	v2 := rowsFor(n+n/6, 1)[n/6:]
	f.publish(v2)
	ref := f.device(t, cache.Options{})
	if res := ref.sync(t); res.Mode != "snapshot" || res.To != 2 {
		t.Fatalf("reference sync: %+v", res)
	}
	ref.db.Close()
	_, digest2 := statusDigest(t, ref.path)
	if digest1 == digest2 {
		t.Fatal("versions 1 and 2 have equal contents")
	}
	rootFile := filepath.Join(t.TempDir(), "root.json")
	os.WriteFile(rootFile, f.root(), 0o600)

	work := t.TempDir()
	child := func() *exec.Cmd {
		db := filepath.Join(work, "cache.db")
		for _, s := range []string{"", "-wal", "-shm"} {
			os.Remove(db + s)
		}
		copyFile(t, db, tmpl.path)
		os.RemoveAll(filepath.Join(work, "feed"))
		copyTree(t, filepath.Join(work, "feed"), tmpl.s.cfg.Dir)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envChild+"=1", envDB+"="+db, envURL+"="+f.srv.URL, envRoot+"="+rootFile,
			envDir+"="+filepath.Join(work, "feed"), envNow+"="+strconv.FormatInt(f.clk.Now().UnixNano(), 10))
		cmd.Stderr = &strings.Builder{}
		return cmd
	}
	// start runs a child until it begins to write.
	start := func() (*exec.Cmd, time.Time) {
		cmd := child()
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line := make([]byte, len("applying\n"))
		if _, err := io.ReadFull(out, line); err != nil || string(line) != "applying\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child: %q %v: %s", line, err, cmd.Stderr)
		}
		return cmd, time.Now()
	}
	// One run to the end measures how long the apply takes.
	cmd, began := start()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child sync: %v: %s", err, cmd.Stderr)
	}
	full := time.Since(began)
	if v, d := statusDigest(t, filepath.Join(work, "cache.db")); v != 2 || d != digest2 {
		t.Fatalf("child sync gave version %d digest %s", v, d)
	}
	// The delta changes most keys: the sync merges it into the base after
	// the commit, so the kills below land in the apply and in the merge.
	if db, err := cache.Open(context.Background(), filepath.Join(work, "cache.db"), cache.Options{}); err != nil {
		t.Fatal(err)
	} else if c, err := db.Count(context.Background()); db.Close() != nil || err != nil || c.Deltas != 0 {
		t.Fatalf("after the child's sync: %+v %v, want the delta table merged", c, err)
	}
	var olds, news int
	for i := range runs {
		cmd, _ := start()
		time.Sleep(time.Duration(rand.Int64N(int64(full * 12 / 10))))
		cmd.Process.Kill()
		cmd.Wait()
		path := filepath.Join(work, "cache.db")
		db, err := cache.Open(context.Background(), path, cache.Options{})
		if err != nil {
			t.Fatalf("run %d: open after kill: %v", i, err)
		}
		ok, err := db.IntegrityCheck(context.Background())
		db.Close()
		if ok != "ok" || err != nil {
			t.Fatalf("run %d: integrity_check %q %v", i, ok, err)
		}
		v, d := statusDigest(t, path)
		switch {
		case v == 1 && d == digest1:
			olds++
		case v == 2 && d == digest2:
			news++
		default:
			t.Fatalf("run %d: version %d with contents %s matching neither version", i, v, d)
		}
	}
	t.Logf("%d kills over %v applies of a delta to a %d-key cache: %d left version 1, %d version 2", runs, full.Round(time.Millisecond), n, olds, news)
}

// TestLookupsDuringDeltaApply: lookups keep answering while a large delta
// applies: with the write transaction open they return the old statuses at
// once, and every concurrent lookup returns the old or the new status.
// CHECKPOINT_DELTA_KEYS sets the delta's size (default 100000; the
// benchmarks use 1000000).
func TestLookupsDuringDeltaApply(t *testing.T) {
	n := envInt("CHECKPOINT_DELTA_KEYS", 100000)
	f := newFeed(t)
	f.publish(rowsFor(n, 0))
	d := f.device(t, cache.Options{})
	d.sync(t)
	next := rowsFor(n, 1)
	f.publish(next)
	ctx := context.Background()
	keys := make([]string, 64)
	old, neu := map[string]string{}, map[string]string{}
	for i := range keys {
		keys[i] = fmt.Sprintf("Q%d", i*(n/len(keys)))
		e, ok, _ := d.db.Status(ctx, keys[i])
		if !ok {
			t.Fatalf("%s missing", keys[i])
		}
		old[keys[i]] = e.Color.String()
		neu[keys[i]] = strings.Split(next[i*(n/len(keys))], ",")[1]
	}
	changed := 0
	for _, k := range keys {
		if old[k] != neu[k] {
			changed++
		}
	}
	if changed == 0 {
		t.Fatal("no sampled key changes")
	}
	var inTx int
	d.s.beforeCommit = func() {
		for _, k := range keys {
			e, ok, err := d.db.Status(ctx, k)
			if err != nil || !ok || e.Color.String() != old[k] {
				t.Errorf("lookup of %s inside the apply: %v %v %v, want the old %s", k, e.Color, ok, err, old[k])
			}
			inTx++
		}
	}
	var (
		wg   sync.WaitGroup
		done = make(chan struct{})
		lat  []time.Duration
		bad  error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			k := keys[i%len(keys)]
			start := time.Now()
			e, ok, err := d.db.Status(ctx, k)
			lat = append(lat, time.Since(start))
			if err != nil || !ok || (e.Color.String() != old[k] && e.Color.String() != neu[k]) {
				bad = fmt.Errorf("lookup %s: %v %v %v", k, e.Color, ok, err)
				return
			}
		}
	}()
	res, err := d.s.Sync(ctx)
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if bad != nil {
		t.Fatal(bad)
	}
	if res.Mode != "delta" || res.Applied == 0 || inTx != len(keys) {
		t.Fatalf("sync %+v, %d lookups inside", res, inTx)
	}
	d.want(t, neu)
	slices.Sort(lat)
	t.Logf("%d lookups during a %d-row delta (%v): p50 %v, p99 %v, max %v", len(lat), res.Applied, res.Duration.Round(time.Millisecond),
		lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
}
