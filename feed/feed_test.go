package feed

import (
	"bytes"
	"checkpoint/clocktest"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"checkpoint"
	"checkpoint/cache"
	"checkpoint/feed/format"
	"checkpoint/feed/publish"
)

var t0 = time.Date(2021, 10, 1, 8, 0, 0, 0, time.UTC)

// testFeed is a feed directory served over HTTP on 127.0.0.1. tamper, when
// set, may answer a request itself (returning true).
type testFeed struct {
	t      *testing.T
	dir    string
	clk    *clocktest.Clock
	srv    *httptest.Server
	tamper atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
	opts   publish.Options
}

func newFeed(t *testing.T) *testFeed {
	t.Helper()
	f := &testFeed{t: t, dir: t.TempDir(), clk: clocktest.New(t0)}
	if err := publish.Init(f.dir, publish.InitOptions{Clock: f.clk}); err != nil {
		t.Fatal(err)
	}
	f.opts = publish.Options{Clock: f.clk}
	files := http.FileServer(http.Dir(filepath.Join(f.dir, "repo")))
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := f.tamper.Load(); h != nil && (*h)(w, r) {
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *testFeed) setTamper(h func(w http.ResponseWriter, r *http.Request) bool) {
	if h == nil {
		f.tamper.Store(nil)
		return
	}
	f.tamper.Store(&h)
}

// publish publishes rows ("QID,status,until" lines) and optional side files.
func (f *testFeed) publish(rows []string, side ...func(*publish.Inputs)) *format.Manifest {
	f.t.Helper()
	in := publish.Inputs{Statuses: strings.NewReader(strings.Join(rows, "\n") + "\n")}
	for _, s := range side {
		s(&in)
	}
	m, err := publish.Publish(context.Background(), f.dir, in, f.opts)
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

func (f *testFeed) root() []byte {
	b, err := os.ReadFile(filepath.Join(f.dir, "repo", "root.json"))
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// logBuf collects log lines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }
func (l *logBuf) Reset()                      { l.mu.Lock(); l.b.Reset(); l.mu.Unlock() }

// problems returns the lines logged at WARN or above.
func (l *logBuf) problems() []string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			out = append(out, line)
		}
	}
	return out
}

type device struct {
	db   *cache.DB
	s    *Syncer
	logs *logBuf
	path string
}

func (f *testFeed) device(t *testing.T, copts cache.Options, mod ...func(*Options)) *device {
	t.Helper()
	dir := t.TempDir()
	d := &device{logs: &logBuf{}, path: filepath.Join(dir, "cache.db")}
	copts.Clock = f.clk
	db, err := cache.Open(context.Background(), d.path, copts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d.db = db
	cfg := Options{
		URL:     f.srv.URL,
		Root:    f.root(),
		Dir:     filepath.Join(dir, "feed"),
		Timeout: 5 * time.Second,
		Clock:   checkpoint.FloorClock{Clock: f.clk, Floor: db.FeedTime},
		Logger:  slog.New(slog.NewTextHandler(d.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mod {
		m(&cfg)
	}
	if d.s, err = NewSyncer(db, cfg); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *device) sync(t *testing.T) Result {
	t.Helper()
	res, err := d.s.SyncOnce(context.Background())
	if err != nil {
		t.Fatalf("sync: %v\nlogs:\n%s", err, d.logs)
	}
	return res
}

// want checks the statuses of keys ("" color: absent).
func (d *device) want(t *testing.T, m map[string]string) {
	t.Helper()
	for key, want := range m {
		e, ok, err := d.db.Status(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if ok {
			got = e.Color.String()
		}
		if got != want {
			t.Errorf("status of %s = %q, want %q", key, got, want)
		}
	}
}

func selfSigned(t *testing.T, cn string) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: t0, NotAfter: t0.AddDate(2, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pemOf(ders ...[]byte) string {
	var b bytes.Buffer
	for _, d := range ders {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: d})
	}
	return b.String()
}

// TestPublishWithRootKeyOffline: once the repository exists, the root key
// can leave the publishing machine; publish and refresh sign without it.
func TestPublishWithRootKeyOffline(t *testing.T) {
	f := newFeed(t)
	if err := os.Remove(filepath.Join(f.dir, "keys", "root.pem")); err != nil {
		t.Fatal(err)
	}
	f.publish([]string{"qid,status,valid_until", "A,green,"})
	if err := publish.Refresh(f.dir, f.opts); err != nil {
		t.Fatalf("refresh without the root key: %v", err)
	}
	f.publish([]string{"qid,status,valid_until", "A,red,"})
	d := f.device(t, cache.Options{})
	d.sync(t)
	d.want(t, map[string]string{"A": "red"})
}

func TestPublishSyncDeltas(t *testing.T) {
	f := newFeed(t)
	f.opts.KeepDeltas = 2
	der1, der2 := selfSigned(t, "DSC one"), selfSigned(t, "DSC two")
	revoked := sha256.Sum256([]byte("revoked UCI"))
	m1 := f.publish([]string{"qid,status,valid_until", "A,green,2022-01-01", "B,yellow,", "C,red,"}, func(in *publish.Inputs) {
		in.TrustList = strings.NewReader(pemOf(der1, der2))
		in.Revocations = strings.NewReader("hashtype,hash\nUCI," + hex.EncodeToString(revoked[:]) + "\n")
		in.Rules = strings.NewReader(`{"profile":"vn-2021"}`)
	})
	if m1.Version != 1 || len(m1.Deltas) != 0 || m1.Statuses != 3 {
		t.Fatalf("manifest 1: %+v", m1)
	}
	d := f.device(t, cache.Options{})
	if res := d.sync(t); res.Mode != "snapshot" || res.To != 1 || res.Applied != 3 {
		t.Errorf("first sync: %+v", res)
	}
	d.want(t, map[string]string{"A": "green", "B": "yellow", "C": "red", "D": ""})
	if s, _ := d.db.Signers(cache.KID(der2)); len(s) != 1 || !bytes.Equal(s[0], der2) {
		t.Errorf("trust list not applied: %d signers", len(s))
	}
	if r, _ := d.db.Revoked(context.Background(), []checkpoint.RevocationHash{{Type: "UCI", Hash: revoked[:]}}); !r {
		t.Error("revocation not applied")
	}
	if r, _ := d.db.Rules(context.Background()); string(r) != `{"profile":"vn-2021"}` {
		t.Errorf("rules = %q", r)
	}
	if !d.db.FeedTime().Equal(t0) || d.db.Stale(f.clk.Now()) {
		t.Errorf("feed time %v, stale %v", d.db.FeedTime(), d.db.Stale(f.clk.Now()))
	}
	// The device hashes scanned keys with the feed's key.
	if d.db.KeyHash("A") != hex.EncodeToString(hmacOf(t, f, "A")) {
		t.Error("device does not hash with the feed's key")
	}

	// v2: A changes, B goes, D comes; side files unchanged.
	f.clk.Add(time.Hour)
	f.publish([]string{"A,red,", "C,red,", "D,green,2022-06-01"})
	if res := d.sync(t); res.Mode != "delta" || res.From != 1 || res.To != 2 || res.Applied != 3 {
		t.Errorf("delta sync: %+v", res)
	}
	d.want(t, map[string]string{"A": "red", "B": "", "C": "red", "D": "green"})
	if s, _ := d.db.Signers(cache.KID(der1)); len(s) != 1 {
		t.Error("trust list lost by a delta")
	}
	// Nothing new: a sync only renews the freshness.
	f.clk.Add(time.Hour)
	if res := d.sync(t); res.Mode != "none" || res.To != 2 {
		t.Errorf("idle sync: %+v", res)
	}
	if !d.db.Updated().Equal(f.clk.Now()) {
		t.Errorf("updated = %v, want %v", d.db.Updated(), f.clk.Now())
	}

	// Two versions at once: both deltas in one go; the rules change.
	f.publish([]string{"A,green,", "C,red,", "D,green,2022-06-01"})
	f.publish([]string{"A,green,", "C,yellow,", "E,green,"}, func(in *publish.Inputs) { in.Rules = strings.NewReader(`{"profile":"v2"}`) })
	if res := d.sync(t); res.Mode != "delta" || res.From != 2 || res.To != 4 {
		t.Errorf("two-delta sync: %+v", res)
	}
	d.want(t, map[string]string{"A": "green", "C": "yellow", "D": "", "E": "green"})
	if r, _ := d.db.Rules(context.Background()); string(r) != `{"profile":"v2"}` {
		t.Errorf("rules = %q", r)
	}

	// A device that fell further behind than the kept deltas takes the snapshot.
	old := f.device(t, cache.Options{})
	old.sync(t)
	f.publish([]string{"A,green,", "F,green,"})
	f.publish([]string{"A,green,", "F,green,", "G,red,"})
	f.publish([]string{"A,yellow,", "F,green,", "G,red,"})
	if res := old.sync(t); res.Mode != "snapshot" || res.From != 4 || res.To != 7 {
		t.Errorf("sync across a gap: %+v", res)
	}
	old.want(t, map[string]string{"A": "yellow", "C": "", "E": "", "F": "green", "G": "red"})
	if p := old.logs.problems(); len(p) != 0 {
		t.Errorf("problems logged: %q", p)
	}
	// Old version folders are pruned.
	if _, err := os.Stat(filepath.Join(f.dir, "repo", "targets", "v1")); !os.IsNotExist(err) {
		t.Errorf("v1 targets not pruned: %v", err)
	}
}

// hmacOf is the keyed hash the feed publishes for key: HMAC-SHA-256 with
// the feed's hash key (state/hashkey), cut to the cache's hash size.
func hmacOf(t *testing.T, f *testFeed, key string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, "state", "hashkey"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(key))
	return m.Sum(nil)[:cache.HashSize]
}

// latestTargets reads the newest targets metadata the repository serves.
func latestTargets(t *testing.T, f *testFeed) *metadata.Metadata[metadata.TargetsType] {
	t.Helper()
	ts, err := metadata.Timestamp().FromFile(filepath.Join(f.dir, "repo", "timestamp.json"))
	if err != nil {
		t.Fatal(err)
	}
	sv := ts.Signed.Meta["snapshot.json"].Version
	sn, err := metadata.Snapshot().FromFile(filepath.Join(f.dir, "repo", fmt.Sprintf("%d.snapshot.json", sv)))
	if err != nil {
		t.Fatal(err)
	}
	tv := sn.Signed.Meta["targets.json"].Version
	tg, err := metadata.Targets().FromFile(filepath.Join(f.dir, "repo", fmt.Sprintf("%d.targets.json", tv)))
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// TestAttacks: each attack is rejected, the cache keeps its last good state,
// and the failure is one clear log line.
func TestAttacks(t *testing.T) {
	v1 := []string{"A,green,", "B,yellow,", "C,red,"}
	v2 := []string{"A,red,", "C,green,", "D,green,"}
	good1 := map[string]string{"A": "green", "B": "yellow", "C": "red", "D": ""}
	good2 := map[string]string{"A": "red", "B": "", "C": "green", "D": "green"}
	isTarget := func(r *http.Request, part string) bool {
		return strings.Contains(r.URL.Path, "/targets/") && strings.Contains(r.URL.Path, part)
	}
	serveModified := func(f *testFeed, match func(*http.Request) bool, mod func([]byte) []byte) {
		f.setTamper(func(w http.ResponseWriter, r *http.Request) bool {
			if !match(r) {
				return false
			}
			b, err := os.ReadFile(filepath.Join(f.dir, "repo", filepath.FromSlash(r.URL.Path)))
			if err != nil {
				http.NotFound(w, r)
				return true
			}
			w.Write(mod(b))
			return true
		})
	}
	flip := func(b []byte) []byte { c := bytes.Clone(b); c[len(c)/2] ^= 1; return c }

	for _, tt := range []struct {
		name   string
		attack func(t *testing.T, f *testFeed, d *device)
		kind   string
		state  map[string]string // expected after the attacked sync
		stale  bool
	}{
		{
			name: "changed byte in every status target",
			attack: func(t *testing.T, f *testFeed, d *device) {
				f.publish(v2)
				serveModified(f, func(r *http.Request) bool { return isTarget(r, "/v2/") }, flip)
			},
			kind: KindDigest, state: good1,
		},
		{
			name: "metadata signed by the wrong key",
			attack: func(t *testing.T, f *testFeed, d *device) {
				f.publish(v2)
				// Re-sign timestamp.json with a key of another feed.
				other := t.TempDir()
				if err := publish.Init(other, publish.InitOptions{Clock: f.clk}); err != nil {
					t.Fatal(err)
				}
				k, err := publish.ReadKey(filepath.Join(other, "keys", "timestamp.pem"))
				if err != nil {
					t.Fatal(err)
				}
				ts, err := metadata.Timestamp().FromFile(filepath.Join(f.dir, "repo", "timestamp.json"))
				if err != nil {
					t.Fatal(err)
				}
				ts.Signed.Version++
				if err := publish.Sign(ts, k); err != nil {
					t.Fatal(err)
				}
				b, _ := ts.ToBytes(false)
				serveModified(f, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/timestamp.json") }, func([]byte) []byte { return b })
			},
			kind: KindSignature, state: good1,
		},
		{
			name: "rollback to older metadata",
			attack: func(t *testing.T, f *testFeed, d *device) {
				old, _ := os.ReadFile(filepath.Join(f.dir, "repo", "timestamp.json"))
				f.publish(v2)
				d.sync(t)
				d.want(t, good2)
				d.logs.Reset()
				serveModified(f, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/timestamp.json") }, func([]byte) []byte { return old })
			},
			kind: KindRollback, state: good2,
		},
		{
			name: "rollback with the trusted metadata lost",
			attack: func(t *testing.T, f *testFeed, d *device) {
				old, _ := os.ReadFile(filepath.Join(f.dir, "repo", "timestamp.json"))
				f.publish(v2)
				d.sync(t)
				d.logs.Reset()
				os.RemoveAll(d.s.cfg.Dir)
				serveModified(f, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/timestamp.json") }, func([]byte) []byte { return old })
			},
			kind: KindRollback, state: good2,
		},
		{
			name: "freeze: the timestamp expires",
			attack: func(t *testing.T, f *testFeed, d *device) {
				f.clk.Add(publish.DefaultTimestampExpiry + time.Minute)
			},
			kind: KindExpired, state: good1, stale: true,
		},
		{
			name: "targets mixed from two versions",
			attack: func(t *testing.T, f *testFeed, d *device) {
				// Keep v1's snapshot chunk to serve in place of v2's.
				m1, _ := format.ParseManifest(readTarget(t, f, "manifest.json"))
				chunk1 := readTarget(t, f, m1.Snapshot[0])
				f.publish(v2)
				serveModified(f, func(r *http.Request) bool { return isTarget(r, "/v2/") }, func([]byte) []byte { return chunk1 })
			},
			kind: KindDigest, state: good1,
		},
		{
			name: "metadata mixed from two versions",
			attack: func(t *testing.T, f *testFeed, d *device) {
				old, _ := os.ReadFile(filepath.Join(f.dir, "repo", "1.targets.json"))
				f.publish(v2)
				f.setTamper(func(w http.ResponseWriter, r *http.Request) bool {
					if strings.HasSuffix(r.URL.Path, "/2.targets.json") {
						w.Write(old)
						return true
					}
					return false
				})
			},
			kind: KindDigest, state: good1,
		},
		{
			name: "truncated download",
			attack: func(t *testing.T, f *testFeed, d *device) {
				f.publish(v2)
				f.setTamper(func(w http.ResponseWriter, r *http.Request) bool {
					if !isTarget(r, "/v2/") {
						return false
					}
					b, _ := os.ReadFile(filepath.Join(f.dir, "repo", filepath.FromSlash(r.URL.Path)))
					w.Header().Set("Content-Length", fmt.Sprint(len(b)))
					w.Write(b[:len(b)/2])
					return true // the server closes the connection short
				})
			},
			kind: KindDownload, state: good1,
		},
		{
			name: "slow loris: timestamp.json a byte at a time",
			attack: func(t *testing.T, f *testFeed, d *device) {
				f.publish(v2)
				// Each byte comes well within the pause timeout; the
				// whole file would take many times the deadline.
				d.s.cfg.Timeout = time.Second
				d.s.cfg.MetadataDeadline = 300 * time.Millisecond
				dribble(t, f, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/timestamp.json") })
			},
			kind: KindTimeout, state: good1,
		},
		{
			name: "slow loris: a status chunk a byte at a time",
			attack: func(t *testing.T, f *testFeed, d *device) {
				f.publish(v2)
				d.s.cfg.Timeout = 500 * time.Millisecond
				d.s.cfg.MinRate = 1 << 20 // the deadline: about Timeout
				dribble(t, f, func(r *http.Request) bool { return isTarget(r, "/v2/") })
			},
			kind: KindTimeout, state: good1,
		},
		{
			name: "server never answers",
			attack: func(t *testing.T, f *testFeed, d *device) {
				f.publish(v2)
				d.s.cfg.Timeout = 200 * time.Millisecond
				block := make(chan struct{})
				t.Cleanup(func() { close(block) })
				f.setTamper(func(w http.ResponseWriter, r *http.Request) bool {
					select {
					case <-block:
					case <-r.Context().Done():
					}
					return true
				})
			},
			kind: KindTimeout, state: good1,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFeed(t)
			f.publish(v1)
			d := f.device(t, cache.Options{})
			d.sync(t)
			d.want(t, good1)
			d.logs.Reset()
			tt.attack(t, f, d)
			version := d.db.Version()
			_, err := d.s.SyncOnce(context.Background())
			if err == nil {
				t.Fatalf("attacked sync succeeded; logs:\n%s", d.logs)
			}
			if k := Kind(err); k != tt.kind {
				t.Errorf("kind %q, want %q (%v)", k, tt.kind, err)
			}
			if d.db.Version() != version {
				t.Errorf("version moved from %d to %d", version, d.db.Version())
			}
			if st := d.s.Stats(); st.LastError == "" || st.Consecutive != 1 {
				t.Errorf("sync error not recorded: %+v", st)
			}
			d.want(t, tt.state)
			p := d.logs.problems()
			if len(p) != 1 || !strings.Contains(p[0], "feed sync failed") || !strings.Contains(p[0], "kind="+tt.kind) {
				t.Errorf("want one clear log line, got %q", p)
			}
			if got := d.db.Stale(f.clk.Now()); got != tt.stale {
				t.Errorf("stale = %v, want %v", got, tt.stale)
			}
			if s, err := d.db.IntegrityCheck(context.Background()); s != "ok" || err != nil {
				t.Errorf("integrity_check: %q %v", s, err)
			}
			// Once the attack stops, the device catches up.
			f.setTamper(nil)
			if tt.kind == KindExpired {
				if err := publish.Refresh(f.dir, f.opts); err != nil {
					t.Fatal(err)
				}
			}
			d.s.cfg.Timeout = 5 * time.Second
			d.s.cfg.MetadataDeadline, d.s.cfg.MinRate = DefaultMetadataDeadline, DefaultMinRate
			d.sync(t)
			if tt.kind != KindExpired {
				d.want(t, good2)
			}
			if d.db.Stale(f.clk.Now()) {
				t.Error("stale after a good sync")
			}
		})
	}
}

// dribble makes the feed serve the files match selects a byte every 50 ms,
// flushed, until the whole file is out or the client goes away.
func dribble(t *testing.T, f *testFeed, match func(*http.Request) bool) {
	f.setTamper(func(w http.ResponseWriter, r *http.Request) bool {
		if !match(r) {
			return false
		}
		b, err := os.ReadFile(filepath.Join(f.dir, "repo", filepath.FromSlash(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return true
		}
		rc := http.NewResponseController(w)
		for i := range b {
			if _, err := w.Write(b[i : i+1]); err != nil || rc.Flush() != nil {
				return true
			}
			select {
			case <-r.Context().Done():
				return true
			case <-time.After(50 * time.Millisecond):
			}
		}
		return true
	})
}

// readTarget reads a published target by its path, through targets metadata.
func readTarget(t *testing.T, f *testFeed, path string) []byte {
	t.Helper()
	tf := latestTargets(t, f).Signed.Targets[path]
	if tf == nil {
		t.Fatalf("no target %s", path)
	}
	dir, base := filepath.Split(filepath.FromSlash(path))
	b, err := os.ReadFile(filepath.Join(f.dir, "repo", "targets", dir, hex.EncodeToString(tf.Hashes["sha256"])+"."+base))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A changed byte in the delta alone: the device falls back to the snapshot
// and still reaches the new version, saying so once.
func TestDeltaFallsBackToSnapshot(t *testing.T) {
	f := newFeed(t)
	f.publish([]string{"A,green,", "B,yellow,"})
	d := f.device(t, cache.Options{})
	d.sync(t)
	d.logs.Reset()
	f.publish([]string{"A,red,", "C,green,"})
	f.setTamper(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, "delta-") {
			return false
		}
		b, _ := os.ReadFile(filepath.Join(f.dir, "repo", filepath.FromSlash(r.URL.Path)))
		b[len(b)-1] ^= 0x80
		w.Write(b)
		return true
	})
	if res := d.sync(t); res.Mode != "snapshot" || res.To != 2 {
		t.Errorf("sync: %+v", res)
	}
	d.want(t, map[string]string{"A": "red", "B": "", "C": "green"})
	p := d.logs.problems()
	if len(p) != 1 || !strings.Contains(p[0], "fell back to the snapshot") || !strings.Contains(p[0], "kind=digest") {
		t.Errorf("logs: %q", p)
	}
}

func TestDiskFullDuringSync(t *testing.T) {
	f := newFeed(t)
	f.publish([]string{"A,green,", "B,red,"})
	d := f.device(t, cache.Options{MaxPages: 40})
	d.sync(t)
	var rows []string
	for i := range 20000 {
		rows = append(rows, fmt.Sprintf("Q%d,green,2022-01-01", i))
	}
	f.publish(append(rows, "A,red,"))
	d.logs.Reset()
	_, err := d.s.SyncOnce(context.Background())
	if Kind(err) != KindDiskFull {
		t.Fatalf("sync into a full cache: %v (kind %q)", err, Kind(err))
	}
	if p := d.logs.problems(); len(p) != 1 || !strings.Contains(p[0], "kind=disk-full") {
		t.Errorf("logs %q", p)
	}
	if d.db.Version() != 1 {
		t.Errorf("version %d", d.db.Version())
	}
	d.want(t, map[string]string{"A": "green", "B": "red", "Q1": ""})
	if s, err := d.db.IntegrityCheck(context.Background()); s != "ok" || err != nil {
		t.Errorf("integrity_check: %q %v", s, err)
	}
}

func TestCorruptCacheRebuiltFromSnapshot(t *testing.T) {
	f := newFeed(t)
	var rows []string
	for i := range 20000 {
		rows = append(rows, fmt.Sprintf("Q%d,green,", i))
	}
	f.publish(rows)
	d := f.device(t, cache.Options{})
	d.sync(t)
	path, feedDir := d.path, d.s.cfg.Dir
	d.db.Close()
	fh, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := fh.Stat()
	fh.WriteAt(bytes.Repeat([]byte{0xa5}, 8192), st.Size()/2&^4095)
	fh.Close()

	logs := &logBuf{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	db, err := cache.OpenOrRecover(context.Background(), path, cache.Options{Clock: f.clk, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if !db.Rebuilding() || !db.Stale(f.clk.Now()) {
		t.Fatal("recovered cache not rebuilding/stale")
	}
	s, err := NewSyncer(db, Options{URL: f.srv.URL, Root: f.root(), Dir: feedDir, Clock: f.clk, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.SyncOnce(context.Background())
	if err != nil || res.Mode != "snapshot" || res.Applied != 20000 {
		t.Fatalf("rebuild sync: %+v %v", res, err)
	}
	if db.Rebuilding() || db.Stale(f.clk.Now()) {
		t.Error("still rebuilding after the snapshot")
	}
	if _, ok, _ := db.Status(context.Background(), "Q123"); !ok {
		t.Error("row missing after rebuild")
	}
	if !strings.Contains(logs.String(), "cache file corrupt") {
		t.Errorf("no log line for the corrupt file: %s", logs)
	}
}

func TestClockJumps(t *testing.T) {
	f := newFeed(t)
	f.publish([]string{"A,green,"})
	d := f.device(t, cache.Options{MaxAge: 24 * time.Hour})
	f.clk.Add(time.Hour)
	d.sync(t)
	clock := checkpoint.FloorClock{Clock: f.clk, Floor: d.db.FeedTime}
	if d.db.Stale(clock.Now()) {
		t.Fatal("stale right after a sync")
	}
	// Backwards past the feed time (a Pi booting without RTC): the floor
	// holds the time at the feed's, and the cache counts as stale because
	// its age is unknown.
	f.clk.Set(time.Unix(0, 0))
	if now := clock.Now(); !now.Equal(t0) {
		t.Errorf("floored now = %v, want the feed time %v", now, t0)
	}
	if !d.db.Stale(clock.Now()) {
		t.Error("fresh after the clock jumped backwards")
	}
	// Forward past max_age: stale.
	f.clk.Set(t0.Add(26 * time.Hour))
	if !d.db.Stale(clock.Now()) {
		t.Error("fresh after the clock jumped forwards a day")
	}
	// The metadata expired in the meantime: the sync refuses it, stays stale.
	if _, err := d.s.SyncOnce(context.Background()); Kind(err) != KindExpired {
		t.Errorf("sync with expired metadata: %v", err)
	}
	if !d.db.Stale(clock.Now()) {
		t.Error("fresh after a refused sync")
	}
	// A refreshed feed makes it fresh again.
	if err := publish.Refresh(f.dir, f.opts); err != nil {
		t.Fatal(err)
	}
	d.sync(t)
	if d.db.Stale(clock.Now()) {
		t.Error("stale after a good sync")
	}
}

func TestRunBacksOffAndStats(t *testing.T) {
	f := newFeed(t)
	f.publish([]string{"A,green,"})
	const first = 100 * time.Millisecond
	d := f.device(t, cache.Options{}, func(c *Options) {
		c.Interval = time.Hour
		c.MinBackoff = first
	})
	var fails atomic.Int32
	var mu sync.Mutex
	var attempts []time.Time // when each failed sync's first request came
	f.setTamper(func(w http.ResponseWriter, r *http.Request) bool {
		if fails.Add(1) <= 3 {
			mu.Lock()
			attempts = append(attempts, time.Now())
			mu.Unlock()
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.s.Run(ctx); close(done) }()
	for deadline := time.Now().Add(30 * time.Second); d.s.Stats().LastSuccess.IsZero(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("no successful sync within 30 s: %+v", d.s.Stats())
		}
	}
	cancel()
	<-done
	// The waits between the failed syncs double from MinBackoff, less up to
	// a tenth of jitter. Only lower bounds: a busy machine may add time.
	mu.Lock()
	for i := 1; i < len(attempts); i++ {
		if gap, least := attempts[i].Sub(attempts[i-1]), first<<(i-1)*9/10; gap < least {
			t.Errorf("retry %d came %v after the failure before it, want at least %v", i, gap, least)
		}
	}
	mu.Unlock()
	st := d.s.Stats()
	if st.Version != 1 || st.Failures != 3 || st.Syncs != 4 || st.Consecutive != 0 || st.Mode != "snapshot" || st.Applied != 1 || st.TotalBytes == 0 || st.LastError != "" {
		t.Errorf("stats %+v", st)
	}
	if p := d.logs.problems(); len(p) != 3 {
		t.Errorf("want 3 failure lines, got %q", p)
	}
}

// An interrupted download resumes: verified chunks already fetched are not
// fetched again, and nothing is applied until all are there. (Downloads
// too big to hold in memory; these few bytes are made so by HoldDownloads.)
func TestInterruptedDownloadResumes(t *testing.T) {
	f := newFeed(t)
	f.opts.ChunkRecords = 2
	m := f.publish([]string{"A,green,", "B,green,", "C,red,", "D,red,", "E,yellow,", "F,green,", "G,red,", "H,green,", "I,red,", "J,yellow,"})
	if len(m.Snapshot) != 5 {
		t.Fatalf("%d chunks", len(m.Snapshot))
	}
	var mu sync.Mutex
	hits := map[string]int{}
	fail := true
	f.setTamper(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if !strings.Contains(r.URL.Path, "snapshot-") {
			return false
		}
		name := r.URL.Path[strings.LastIndex(r.URL.Path, ".snapshot-")+1:]
		hits[name]++
		if fail && name == "snapshot-3.bin.gz" {
			fail = false
			http.Error(w, "gone", http.StatusBadGateway)
			return true
		}
		return false
	})
	d := f.device(t, cache.Options{}, func(o *Options) { o.HoldDownloads = -1 })
	if _, err := d.s.SyncOnce(context.Background()); Kind(err) != KindDownload {
		t.Fatalf("first sync: %v", err)
	}
	if d.db.Version() != 0 {
		t.Fatal("a partial download was applied")
	}
	d.want(t, map[string]string{"A": ""})
	if res := d.sync(t); res.Mode != "snapshot" || res.Applied != 10 {
		t.Fatalf("second sync: %+v", res)
	}
	d.want(t, map[string]string{"A": "green", "J": "yellow"})
	mu.Lock()
	defer mu.Unlock()
	for i := range 5 {
		want := 1
		if i == 3 {
			want = 2
		}
		if got := hits[fmt.Sprintf("snapshot-%d.bin.gz", i)]; got != want {
			t.Errorf("chunk %d fetched %d times, want %d", i, got, want)
		}
	}
	// Applied downloads are cleaned up; the manifest stays for the next sync.
	ents, _ := os.ReadDir(filepath.Join(d.s.cfg.Dir, "targets"))
	if len(ents) != 1 || ents[0].Name() != "manifest.json" {
		t.Errorf("downloads left after the apply: %v", ents)
	}
}
