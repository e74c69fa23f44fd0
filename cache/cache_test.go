package cache

import (
	"bytes"
	"checkpoint/clocktest"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"checkpoint"
)

// fakeMono is a settable monotonic clock.
type fakeMono struct {
	mu sync.Mutex
	d  time.Duration
}

func (m *fakeMono) Now() time.Duration  { m.mu.Lock(); defer m.mu.Unlock(); return m.d }
func (m *fakeMono) Add(d time.Duration) { m.mu.Lock(); m.d += d; m.mu.Unlock() }
func newTestDB(t *testing.T, opts Options) *DB {
	t.Helper()
	d, err := Open(context.Background(), filepath.Join(t.TempDir(), "cache.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

var t0 = time.Date(2021, 10, 1, 8, 0, 0, 0, time.UTC)

func TestImportAndLookup(t *testing.T) {
	ctx := context.Background()
	clk := clocktest.New(t0)
	d := newTestDB(t, Options{Clock: clk})
	csv := "qid,status,valid_until\n" +
		"QID-GREEN,green,2021-12-31\n" +
		"\n" +
		"QID-YELLOW, Yellow ,2021-11-01T12:00:00+07:00\r\n" +
		"QID-RED,red,\n" +
		"QID-NOEND,green\n"
	n, err := d.ImportCSV(ctx, strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Fatalf("imported %d rows, want 4", n)
	}
	tests := []struct {
		key   string
		ok    bool
		color checkpoint.Color
		until time.Time
	}{
		{"QID-GREEN", true, checkpoint.Green, time.Date(2022, 1, 1, 0, 0, 0, 0, Vietnam)},
		{"QID-YELLOW", true, checkpoint.Yellow, time.Date(2021, 11, 1, 5, 0, 0, 0, time.UTC)},
		{"QID-RED", true, checkpoint.Red, time.Time{}},
		{"QID-NOEND", true, checkpoint.Green, time.Time{}},
		{"QID-UNKNOWN", false, checkpoint.Red, time.Time{}},
		{"qid-green", false, checkpoint.Red, time.Time{}},
	}
	for _, tt := range tests {
		e, ok, err := d.Status(ctx, tt.key)
		if err != nil {
			t.Fatal(err)
		}
		if ok != tt.ok || e.Color != tt.color || !e.ValidUntil.Equal(tt.until) {
			t.Errorf("Status(%s) = %v %v %v, want %v %v %v", tt.key, e.Color, e.ValidUntil, ok, tt.color, tt.until, tt.ok)
		}
	}
	if d.Stale(t0.Add(time.Hour)) {
		t.Error("stale one hour after an import")
	}
	if !d.Stale(t0.Add(25 * time.Hour)) {
		t.Error("not stale 25 hours after an import")
	}
}

// TestImportCodes: a header with a code column keys rows by their code
// (under checkpoint.CodeKey, as typed), beside rows keyed by QID.
func TestImportCodes(t *testing.T) {
	ctx := context.Background()
	d := newTestDB(t, Options{})
	csv := "status,code,qid,valid_until\n" +
		"green,4821-3390,,2099-12-31\n" +
		"red,,QID-RED\n" +
		"yellow, 1234 ,,\n"
	if n, err := d.ImportCSV(ctx, strings.NewReader(csv)); err != nil || n != 3 {
		t.Fatalf("ImportCSV = %d, %v", n, err)
	}
	for key, want := range map[string]checkpoint.Color{
		checkpoint.CodeKey("48213390"): checkpoint.Green,
		checkpoint.CodeKey("1234"):     checkpoint.Yellow,
		"QID-RED":                      checkpoint.Red,
	} {
		e, ok, err := d.Status(ctx, key)
		if err != nil || !ok || e.Color != want {
			t.Errorf("Status(%q) = %v %v %v, want %v", key, e.Color, ok, err, want)
		}
	}
	if _, ok, _ := d.Status(ctx, "48213390"); ok {
		t.Error("a code was found as a QID")
	}
	for _, tt := range []struct{ csv, want string }{
		{"code,status\n12ab,green\n", "line 2: code: a typed code is 4 to 16 digits"},
		{"qid,code,status\nQ,1234,green\n", "line 2: both a qid and a code"},
		{"code,status\n,green\n", "line 2: empty code"},
		{"code,status,colour\n1234,green,x\n", "line 1: header: unknown column \"colour\""},
		{"code,code,status\n", "line 1: header: column \"code\" twice"},
		{"qid,code,valid_until\n", "line 1: header: needs a status column"},
		{"code,status\n1234,green,x\n", "line 2: 3 fields, the header names 2"},
	} {
		if _, err := d.ImportCSV(ctx, strings.NewReader(tt.csv)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.csv, err, tt.want)
		}
	}
}

func TestImportBadInput(t *testing.T) {
	ctx := context.Background()
	d := newTestDB(t, Options{})
	if _, err := d.ImportCSV(ctx, strings.NewReader("A,green,\nB,yellow,\n")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, csv, want string
	}{
		{"empty", "", "no rows"},
		{"header only", "qid,status,valid_until\n", "no rows"},
		{"blank lines", "\n\n", "no rows"},
		{"truncated", "C,green,2021-12-31\nD,gre", "line 2: last line does not end in a newline"},
		{"bad status", "C,green,\nD,blue,\n", "line 2: status"},
		{"bad date", "qid,status,valid_until\nC,green,\nD,green,2021-13-01\n", "line 3: valid_until"},
		{"bad time", "C,green,yesterday\n", "line 1: valid_until"},
		{"fields", "C,green,,x\n", "line 1: 4 fields"},
		{"one field", "C\n", "line 1: 1 fields"},
		{"empty qid", "C,green,\n,red,\n", "line 2: empty qid"},
		{"quotes", "\"C\",green,\n", "line 1: quotes"},
		{"control", "C\x01,green,\n", "line 1: control character"},
		{"long line", "C,green,\n" + strings.Repeat("x", 5000) + ",green,\n", "line 2: line longer"},
		{"long qid", strings.Repeat("x", 300) + ",green,\n", "line 1: qid longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := d.ImportCSV(ctx, strings.NewReader(tt.csv))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ImportCSV = %d, %v; want error containing %q", n, err, tt.want)
			}
			c, err := d.Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if c.Statuses != 2 {
				t.Errorf("%d statuses after a failed import, want the 2 from before", c.Statuses)
			}
			if _, ok, _ := d.Status(ctx, "C"); ok {
				t.Error("a row of the failed import was stored")
			}
		})
	}
}

func TestImportReplacesAndBatches(t *testing.T) {
	ctx := context.Background()
	d := newTestDB(t, Options{})
	var b bytes.Buffer
	const n = 3*batchRows + 7 // full batches and a remainder
	for i := range n {
		b.WriteString("Q" + strconv.Itoa(i) + ",yellow,2022-01-01\n")
	}
	b.WriteString("Q5,green,\n") // a later row wins
	got, err := d.ImportCSV(ctx, &b)
	if err != nil {
		t.Fatal(err)
	}
	if got != n+1 {
		t.Fatalf("imported %d, want %d", got, n+1)
	}
	c, _ := d.Count(ctx)
	if c.Statuses != n {
		t.Fatalf("%d rows, want %d", c.Statuses, n)
	}
	e, ok, _ := d.Status(ctx, "Q5")
	if !ok || e.Color != checkpoint.Green || !e.ValidUntil.IsZero() {
		t.Errorf("Q5 = %+v %v, want green without end", e, ok)
	}
	e, ok, _ = d.Status(ctx, "Q"+strconv.Itoa(n-1))
	if !ok || e.Color != checkpoint.Yellow {
		t.Errorf("last row = %+v %v, want yellow", e, ok)
	}
}

func TestNoPlaintextKeyInFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cache.db")
	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	qid := "VN-QID-0123456789"
	if _, err := d.ImportCSV(ctx, strings.NewReader(qid+",green,\n")); err != nil {
		t.Fatal(err)
	}
	h := d.KeyHash(qid)
	if len(h) != 2*HashSize || strings.Contains(h, qid) {
		t.Fatalf("KeyHash = %q", h)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(path + suffix)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(qid)) {
			t.Errorf("%s holds the plaintext QID", path+suffix)
		}
	}
	// The key survives a reopen, so hashes still match.
	d, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.KeyHash(qid) != h {
		t.Error("hash key changed across a reopen")
	}
	if _, ok, _ := d.Status(ctx, qid); !ok {
		t.Error("row lost across a reopen")
	}
}

func TestKeysDifferPerCache(t *testing.T) {
	a, b := newTestDB(t, Options{}), newTestDB(t, Options{})
	if a.KeyHash("X") == b.KeyHash("X") {
		t.Error("two new caches share a hash key")
	}
}

func TestRevokedSignersRules(t *testing.T) {
	ctx := context.Background()
	d := newTestDB(t, Options{})
	full := bytes.Repeat([]byte{0xab}, 32)
	var h [HashSize]byte
	copy(h[:], full)
	der1, der2 := []byte("certificate one"), []byte("certificate two")
	u, err := d.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.SetRevocations([]Revocation{{HashSignature, h}}); err != nil {
		t.Fatal(err)
	}
	if err := u.SetSigners([][]byte{der1, der2, der1}); err != nil {
		t.Fatal(err)
	}
	if err := u.SetRules([]byte(`{"green":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if err := u.SetRules(make([]byte, MaxRules+1)); err == nil {
		t.Error("oversized rules accepted")
	}
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		hashes []checkpoint.RevocationHash
		want   bool
	}{
		{"signature", []checkpoint.RevocationHash{{Type: "SIGNATURE", Hash: full}}, true},
		{"16 bytes", []checkpoint.RevocationHash{{Type: "SIGNATURE", Hash: full[:16]}}, true},
		{"other type", []checkpoint.RevocationHash{{Type: "UCI", Hash: full}}, false},
		{"short", []checkpoint.RevocationHash{{Type: "SIGNATURE", Hash: full[:15]}}, false},
		{"unknown type", []checkpoint.RevocationHash{{Type: "FOO", Hash: full}}, false},
		{"one of many", []checkpoint.RevocationHash{{Type: "UCI", Hash: make([]byte, 32)}, {Type: "SIGNATURE", Hash: full}}, true},
		{"second of one type", []checkpoint.RevocationHash{{Type: "SIGNATURE", Hash: make([]byte, 32)}, {Type: "SIGNATURE", Hash: full}}, true},
		{"none", nil, false},
	} {
		got, err := d.Revoked(ctx, tt.hashes)
		if err != nil || got != tt.want {
			t.Errorf("%s: Revoked = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	s, err := d.Signers(KID(der1))
	if err != nil || len(s) != 1 || !bytes.Equal(s[0], der1) {
		t.Errorf("Signers(kid1) = %q, %v", s, err)
	}
	s, err = d.Signers([]byte("12345678"))
	if err != nil || len(s) != 0 {
		t.Errorf("Signers(unknown) = %q, %v", s, err)
	}
	r, err := d.Rules(ctx)
	if err != nil || string(r) != `{"green":"x"}` {
		t.Errorf("Rules = %q, %v", r, err)
	}
	if r, err := newTestDB(t, Options{}).Rules(ctx); r != nil || err != nil {
		t.Errorf("Rules on a new cache = %q, %v; want nil", r, err)
	}
}

func TestStaleClock(t *testing.T) {
	ctx := context.Background()
	clk := clocktest.New(t0)
	mono := &fakeMono{}
	d := newTestDB(t, Options{Clock: clk, Mono: mono.Now, MaxAge: 24 * time.Hour})
	if !d.Stale(t0) {
		t.Fatal("a never updated cache is fresh")
	}
	u, _ := d.Begin(ctx)
	u.SetFeed(3, t0.Add(-time.Hour), t0.Add(12*time.Hour))
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := d.FeedTime(); !got.Equal(t0.Add(-time.Hour)) {
		t.Errorf("FeedTime = %v", got)
	}
	if d.Version() != 3 {
		t.Errorf("Version = %d", d.Version())
	}
	for _, tt := range []struct {
		name  string
		now   time.Time
		mono  time.Duration
		stale bool
	}{
		{"just after", t0.Add(time.Minute), 0, false},
		{"small skew back", t0.Add(-time.Minute), 0, false},
		{"expired timestamp", t0.Add(13 * time.Hour), 0, true},
		{"jump forward", t0.Add(48 * time.Hour), 0, true},
		{"jump backwards", t0.Add(-2 * time.Hour), 0, true},
		{"wall says fresh, monotonic says a day passed", t0.Add(time.Hour), 25 * time.Hour, true},
	} {
		mono.d = tt.mono
		if got := d.Stale(tt.now); got != tt.stale {
			t.Errorf("%s: Stale = %v, want %v", tt.name, got, tt.stale)
		}
	}
	// A floored clock never goes below the feed time.
	fc := checkpoint.FloorClock{Clock: clocktest.New(time.Unix(0, 0)), Floor: d.FeedTime}
	if !fc.Now().Equal(d.FeedTime()) {
		t.Errorf("floored now = %v", fc.Now())
	}
	// A later feed time with an older version cannot lower the floor.
	u, _ = d.Begin(ctx)
	u.SetFeed(4, t0.Add(-48*time.Hour), t0.Add(12*time.Hour))
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := d.FeedTime(); !got.Equal(t0.Add(-time.Hour)) {
		t.Errorf("FeedTime went backwards to %v", got)
	}
}

func TestStatePersists(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	clk := clocktest.New(t0)
	d, err := Open(ctx, path, Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := d.Begin(ctx)
	key := bytes.Repeat([]byte{7}, KeySize)
	u.SetKey(key)
	u.SetFeed(9, t0, t0.Add(time.Hour))
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d, err = Open(ctx, path, Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Version() != 9 || !d.FeedTime().Equal(t0) || !d.Expires().Equal(t0.Add(time.Hour)) || !d.Updated().Equal(t0) {
		t.Errorf("state after reopen: v%d feed %v expires %v updated %v", d.Version(), d.FeedTime(), d.Expires(), d.Updated())
	}
	if !bytes.Equal(d.HashKey(), key) {
		t.Error("hash key not kept")
	}
	if d.Stale(t0.Add(30 * time.Minute)) {
		t.Error("stale after reopen")
	}
}

func TestCorruptRecover(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for i := range 20000 {
		b.WriteString("Q" + strconv.Itoa(i) + ",green,\n")
	}
	if _, err := d.ImportCSV(ctx, &b); err != nil {
		t.Fatal(err)
	}
	d.Close()
	// Overwrite pages at a quarter, half and three quarters of the file (not
	// the header): some of them are free (the import's delta table, merged),
	// some hold statuses.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	junk := bytes.Repeat([]byte{0x5a}, 4096*8)
	for _, at := range []int64{st.Size() / 4, st.Size() / 2, st.Size() * 3 / 4} {
		if _, err := f.WriteAt(junk, at&^4095); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()

	if _, err := Open(ctx, path, Options{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open on a corrupt file: %v, want ErrCorrupt", err)
	}
	d, err = OpenOrRecover(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Rebuilding() || !d.Stale(time.Now()) {
		t.Error("recovered cache is not marked rebuilding and stale")
	}
	matches, _ := filepath.Glob(path + ".corrupt-*")
	if len(matches) == 0 {
		t.Error("corrupt file not moved aside")
	}
	d.Close()
	// Rebuilding survives a restart until a feed update lands.
	d, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !d.Rebuilding() {
		t.Error("rebuilding flag lost across a restart")
	}
	u, _ := d.Begin(ctx)
	u.SetFeed(1, time.Now(), time.Now().Add(time.Hour))
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
	if d.Rebuilding() || d.Stale(time.Now()) {
		t.Error("still rebuilding or stale after a feed update")
	}
}

func TestGarbageFileIsCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	os.WriteFile(path, bytes.Repeat([]byte("not a database "), 1000), 0o600)
	if _, err := Open(context.Background(), path, Options{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open on garbage: %v, want ErrCorrupt", err)
	}
}

func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	d := newTestDB(t, Options{MaxPages: 64})
	if _, err := d.ImportCSV(ctx, strings.NewReader("A,green,\n")); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for i := range 50000 {
		b.WriteString("Q" + strconv.Itoa(i) + ",green,\n")
	}
	_, err := d.ImportCSV(ctx, &b)
	if !errors.Is(err, ErrFull) {
		t.Fatalf("import past max_page_count: %v, want ErrFull", err)
	}
	if _, ok, err := d.Status(ctx, "A"); !ok || err != nil {
		t.Errorf("old row lost after a failed import: %v %v", ok, err)
	}
	c, _ := d.Count(ctx)
	if c.Statuses != 1 {
		t.Errorf("%d rows, want 1", c.Statuses)
	}
	if s, err := d.IntegrityCheck(ctx); s != "ok" || err != nil {
		t.Errorf("integrity_check = %q, %v", s, err)
	}
}

func TestPing(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "c.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Ping(ctx); err != nil {
		t.Fatalf("ping an open cache: %v", err)
	}
	d.Close()
	if err := d.Ping(ctx); err == nil {
		t.Fatal("ping a closed cache: no error")
	}
}

// TestFilesPrivateWhateverTheUmask: the cache file and its -wal and -shm
// files are 0600 whatever the umask (sync --once outside systemd runs with
// the shell's), and an older cache readable by others is tightened on open.
func TestFilesPrivateWhateverTheUmask(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	ctx := context.Background()
	dir := t.TempDir()
	check := func(path string) {
		t.Helper()
		for _, suffix := range []string{"", "-wal", "-shm"} {
			fi, err := os.Stat(path + suffix)
			if err != nil {
				t.Errorf("%s: %v", path+suffix, err)
				continue
			}
			if m := fi.Mode().Perm(); m != 0o600 {
				t.Errorf("%s is mode %04o, want 0600", path+suffix, m)
			}
		}
	}
	write := func(d *DB) {
		t.Helper()
		if _, err := d.ImportCSV(ctx, strings.NewReader("Q1,green,\n")); err != nil {
			t.Fatal(err)
		}
	}

	path := filepath.Join(dir, "cache.db")
	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	write(d)
	check(path) // while open: the -wal and -shm files exist
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	d, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	write(d)
	check(path)
}
