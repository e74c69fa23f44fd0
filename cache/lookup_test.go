package cache

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"testing"

	"checkpoint"
)

// TestHashMatchesHMAC checks the pooled hasher against HMAC-SHA-256
// truncated to HashSize, for keys of many lengths (also longer than the
// buffer a pooled state keeps) and from several goroutines at once.
func TestHashMatchesHMAC(t *testing.T) {
	d := newTestDB(t, Options{})
	key := d.HashKey()
	want := func(s string) [HashSize]byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		var out [HashSize]byte
		copy(out[:], m.Sum(nil))
		return out
	}
	keys := []string{"", "Q1", "079201001234", strings.Repeat("x", 63), strings.Repeat("y", 64), strings.Repeat("z", maxPooledKey+1), "Q1"}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				k := keys[(g+i)%len(keys)]
				if got := d.Hash(k); got != want(k) {
					t.Errorf("Hash(%d bytes) = %x, want %x", len(k), got, want(k))
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestStatusHashLength: a hash of another length than HashSize is found
// nowhere, without an error, and does not disturb the next lookup.
func TestStatusHashLength(t *testing.T) {
	ctx := context.Background()
	d := newTestDB(t, Options{})
	if _, err := d.ImportCSV(ctx, strings.NewReader("Q1,green,2022-01-01\n")); err != nil {
		t.Fatal(err)
	}
	h := d.Hash("Q1")
	for _, b := range [][]byte{nil, h[:8], append(h[:], 0)} {
		if _, ok, err := d.StatusHash(ctx, b); ok || err != nil {
			t.Errorf("StatusHash(%d bytes) = %v %v, want not found", len(b), ok, err)
		}
	}
	e, ok, err := d.StatusHash(ctx, h[:])
	if !ok || err != nil || e.Color != checkpoint.Green || e.ValidUntil.IsZero() {
		t.Fatalf("StatusHash(Q1) = %+v %v %v, want green with an end", e, ok, err)
	}
	// The bound buffer is reused: the caller's slice may change afterwards.
	h2 := h
	if _, ok, _ := d.StatusHash(ctx, h2[:]); !ok {
		t.Fatal("Q1 not found again")
	}
	h2[0] ^= 1
	if _, ok, _ := d.StatusHash(ctx, h2[:]); ok {
		t.Fatal("a changed hash still found")
	}
}

// TestLookupAllocs: a lookup allocates only what the driver does (its rows
// object and a boxed valid-until), not the key's hash, the bound argument or
// the HMAC's buffers: garbage per lookup is what drives collections in a
// busy gate. A key the filter sends to a run also has the driver's copy of
// the run's block (its bytes and their slice) and the key's leading bits
// bound.
func TestLookupAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	ctx := context.Background()
	d := newTestDB(t, Options{})
	if _, err := d.ImportCSV(ctx, strings.NewReader("Q1,green,2022-01-01\nQ2,red,\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.MergeDeltas(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ImportCSV(ctx, strings.NewReader("Q3,green,2022-01-01\n")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key  string
		most float64
	}{{"Q1", 2}, {"Q2", 2}, {"absent", 2}, {"Q3", 5}} {
		d.Status(ctx, c.key) // warm the pools
		n := testing.AllocsPerRun(200, func() {
			if _, _, err := d.Status(ctx, c.key); err != nil {
				t.Fatal(err)
			}
		})
		if n > c.most {
			t.Errorf("Status(%s): %.1f allocations, want at most %.0f", c.key, n, c.most)
		}
	}
}

// TestUpdateCancelled: a sync cancelled while rows are written stops at the
// next batch with the context's error, and nothing of the update is visible.
func TestUpdateCancelled(t *testing.T) {
	d := newTestDB(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	u, err := d.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Rollback()
	recs := make([]Record, 2*batchRows)
	for i := range recs {
		recs[i] = Record{Hash: d.Hash("Q" + strings.Repeat("1", i+1)), Color: checkpoint.Green}
	}
	if err := u.Put(recs[:batchRows]...); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := u.Put(recs[batchRows:]...); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put after cancel = %v, want context.Canceled", err)
	}
	if err := u.Commit(); err == nil {
		t.Fatal("Commit after cancel succeeded")
	}
	c, err := d.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Statuses != 0 {
		t.Fatalf("%d rows visible after a cancelled update, want 0", c.Statuses)
	}
	// The writer is free again.
	if _, err := d.ImportCSV(context.Background(), strings.NewReader("Q1,green,\n")); err != nil {
		t.Fatal(err)
	}
}
