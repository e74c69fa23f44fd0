package cache

import (
	"context"
	"testing"
	"time"

	"checkpoint/clocktest"
)

// A sync that finds nothing new renews the last update in memory, and
// writes it to the file only once the stored one is touchGap old or the
// timestamp's expiry changed: a gate syncing every 5 minutes does not write
// the card every 5 minutes. A reopened cache sees the stored time.
func TestTouchWritesRarely(t *testing.T) {
	ctx := context.Background()
	clk := clocktest.New(t0)
	mono := &fakeMono{}
	d := newTestDB(t, Options{Clock: clk, Mono: mono.Now, MaxAge: 24 * time.Hour})
	exp := t0.Add(48 * time.Hour)
	u, _ := d.Begin(ctx)
	u.SetFeed(3, t0, exp)
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
	stored := func() time.Time { // the update time the file holds
		t.Helper()
		var n int64
		if err := d.ck.QueryRowContext(ctx, "SELECT v FROM meta WHERE k = ?", metaUpdated).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return time.Unix(0, n).UTC()
	}
	for _, tt := range []struct {
		name    string
		after   time.Duration // since the last write
		expires time.Time
		written bool
	}{
		{"5 minutes on, nothing new", 5 * time.Minute, exp, false},
		{"10 minutes on, nothing new", 10 * time.Minute, exp, false},
		{"a re-signed timestamp (new expiry)", 15 * time.Minute, exp.Add(time.Hour), true},
		{"5 minutes after that", 20 * time.Minute, exp.Add(time.Hour), false},
		{"an hour after the last write", 75 * time.Minute, exp.Add(time.Hour), true},
	} {
		before := stored()
		clk.Set(t0.Add(tt.after))
		mono.Add(5 * time.Minute)
		if err := d.Touch(ctx, tt.expires); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if wrote := !stored().Equal(before); wrote != tt.written {
			t.Errorf("%s: written to the file %v, want %v", tt.name, wrote, tt.written)
		}
		if got := d.Updated(); !got.Equal(clk.Now()) {
			t.Errorf("%s: Updated %v, want now (%v)", tt.name, got, clk.Now())
		}
		if !d.Expires().Equal(tt.expires.UTC()) {
			t.Errorf("%s: Expires %v, want %v", tt.name, d.Expires(), tt.expires)
		}
		if d.Stale(clk.Now()) {
			t.Errorf("%s: stale after a verified sync", tt.name)
		}
	}
	// The last write was the 75-minute Touch; another now is in memory only.
	clk.Set(t0.Add(80 * time.Minute))
	if err := d.Touch(ctx, exp.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	path := d.Path()
	d.Close()
	d2, err := Open(ctx, path, Options{Clock: clk, MaxAge: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if got := d2.Updated(); !got.Equal(t0.Add(75 * time.Minute)) {
		t.Errorf("reopened: Updated %v, want the stored %v", got, t0.Add(75*time.Minute))
	}
}
