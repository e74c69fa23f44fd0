package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"checkpoint"
)

func TestBloom(t *testing.T) {
	for _, tc := range []struct {
		capacity, keys int64
		maxFP          float64
	}{
		{0, 100, 0.001},
		{100000, 100000, 0.01},
		{100000, 300000, 0.2}, // overfull: more false positives, never a false negative
	} {
		t.Run(fmt.Sprintf("%d in %d", tc.keys, tc.capacity), func(t *testing.T) {
			f := newBloom(tc.capacity)
			key := func(i int64) []byte { s := sha256.Sum256(fmt.Appendf(nil, "k%d", i)); return s[:HashSize] }
			for i := range tc.keys {
				f.add(key(i))
			}
			for i := range tc.keys {
				if !f.has(key(i)) {
					t.Fatalf("key %d added but not found", i)
				}
			}
			var fp int
			const probes = 100000
			for i := range int64(probes) {
				if f.has(key(tc.keys + i)) {
					fp++
				}
			}
			if rate := float64(fp) / probes; rate > tc.maxFP {
				t.Errorf("false positives %.4f, want at most %.4f", rate, tc.maxFP)
			}
			if f.keys.Load() != tc.keys || f.full() != (tc.keys > max(tc.capacity, filterMinKeys)) {
				t.Errorf("keys %d, full %v", f.keys.Load(), f.full())
			}
		})
	}
}

// TestForeignWriter: two handles on one file stand for two processes. What
// one commits to the delta table, or merges, the other's lookups see at
// once, although its filter did not take part in the write.
func TestForeignWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cache.db")
	a, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	snapshot(t, a, 1000)
	b, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	look := func(d *DB, k string) (checkpoint.Color, bool) {
		t.Helper()
		e, ok, err := d.Status(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		return e.Color, ok
	}
	if c, ok := look(a, "K1"); !ok || c != checkpoint.Green {
		t.Fatalf("K1 before: %v %v", c, ok)
	}
	genA := a.filter.Load().gen.Load()
	apply(t, b, []Record{{Hash: b.Hash("K1"), Color: checkpoint.Red}, {Hash: b.Hash("K2"), Delete: true}, {Hash: b.Hash("NEW"), Color: checkpoint.Yellow}})
	if h := a.Hash("K1"); a.filter.Load().all.has(h[:]) && a.filter.Load().gen.Load() == genA {
		t.Fatal("a's filter took part in b's write: the test would not test anything")
	}
	check := func(when string) {
		t.Helper()
		if c, ok := look(a, "K1"); !ok || c != checkpoint.Red {
			t.Errorf("%s: K1 = %v %v, want red", when, c, ok)
		}
		if _, ok := look(a, "K2"); ok {
			t.Errorf("%s: K2 found, want removed", when)
		}
		if c, ok := look(a, "NEW"); !ok || c != checkpoint.Yellow {
			t.Errorf("%s: NEW = %v %v, want yellow", when, c, ok)
		}
		if c, ok := look(a, "K3"); !ok || c != checkpoint.Green {
			t.Errorf("%s: K3 = %v %v, want green", when, c, ok)
		}
	}
	check("right after the other's commit")
	// The mismatch had a's filter reloaded in the background.
	deadline := time.Now().Add(5 * time.Second)
	for a.filter.Load().gen.Load() == genA || a.filterBusy.Load() {
		if time.Now().After(deadline) {
			t.Fatal("a's filter was not reloaded")
		}
		time.Sleep(time.Millisecond)
	}
	if h := a.Hash("K1"); !a.filter.Load().all.has(h[:]) {
		t.Error("the reloaded filter lacks the other's key")
	}
	check("after the reload")
	if _, err := b.MergeDeltas(ctx, true); err != nil {
		t.Fatal(err)
	}
	check("after the other's merge")
}

// TestLookupsDuringWrites: while updates and merges commit, every lookup
// gives the old or the new status, and from the moment a commit returns,
// only the new one.
func TestLookupsDuringWrites(t *testing.T) {
	ctx := context.Background()
	d := newTestDB(t, Options{})
	const n = 2000
	snapshot(t, d, n)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	round := 0 // rounds whose commit returned; round r sets K0..K99 to r%3
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := i % 100
				mu.Lock()
				r := round
				mu.Unlock()
				e, ok, err := d.Status(ctx, fmt.Sprintf("K%d", k))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				r2 := round
				mu.Unlock()
				// Round r had committed and r+2 had not: the status is r's,
				// or r+1's if that one committed meanwhile.
				if c := int(e.Color); !ok || (r > 0 && r2 == r && c != r%3 && c != (r+1)%3) {
					t.Errorf("K%d in round %d: %v %v", k, r, e.Color, ok)
				}
			}
		}()
	}
	for r := 1; r <= 30; r++ {
		recs := make([]Record, 100)
		for k := range recs {
			recs[k] = Record{Hash: d.Hash(fmt.Sprintf("K%d", k)), Color: checkpoint.Color(r % 3)}
		}
		apply(t, d, recs)
		for k := range 100 {
			if e, ok, _ := d.Status(ctx, fmt.Sprintf("K%d", k)); !ok || int(e.Color) != r%3 {
				t.Fatalf("round %d: K%d = %v %v right after the commit", r, k, e.Color, ok)
			}
		}
		if r%4 == 0 {
			if _, err := d.MergeDeltas(ctx, true); err != nil {
				t.Fatal(err)
			}
			for k := range 100 {
				if e, ok, _ := d.Status(ctx, fmt.Sprintf("K%d", k)); !ok || int(e.Color) != r%3 {
					t.Fatalf("round %d: K%d = %v %v right after the merge", r, k, e.Color, ok)
				}
			}
		}
		mu.Lock()
		round = r
		mu.Unlock()
	}
	close(stop)
	wg.Wait()
}

// BenchmarkBloomAddSorted adds keys in increasing order, as a delta's rows
// arrive, to filters sized for the runs of 10M and 100M keys (an eighth of
// the base).
func BenchmarkBloomAddSorted(b *testing.B) {
	for _, capacity := range []int64{10_000_000 / 8, 100_000_000 / 8} {
		b.Run(fmt.Sprintf("capacity %d", capacity), func(b *testing.B) {
			f := newBloom(capacity)
			const n = 1 << 20
			keys := make([][HashSize]byte, n)
			for i := range keys {
				s := sha256.Sum256(fmt.Appendf(nil, "k%d", i))
				copy(keys[i][:], s[:])
			}
			slices.SortFunc(keys, func(a, b [HashSize]byte) int { return bytes.Compare(a[:], b[:]) })
			b.ResetTimer()
			for i := range b.N {
				f.add(keys[i%n][:])
			}
		})
	}
}
