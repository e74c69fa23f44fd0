package cache

import (
	"context"
	"testing"
	"time"

	"checkpoint"
)

// The event log's commits share a checkpoint: they wait EventCheckpoint
// for it, where a feed's commit is copied back within checkpointGap, and a
// feed's commit during the wait brings the checkpoint forward.
func TestEventsShareACheckpoint(t *testing.T) {
	ctx := context.Background()
	const gap = 3 * time.Second
	d := newTestDB(t, Options{EventCheckpoint: gap})
	runs := func() int64 { return d.ckRuns.Load() }
	settled := func(n int64, within time.Duration) bool {
		for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if runs() >= n {
				return true
			}
		}
		return false
	}
	snapshot(t, d, 100) // a feed's commit: copied back at once
	if !settled(1, 2*time.Second) {
		t.Fatal("no checkpoint after a snapshot")
	}
	time.Sleep(checkpointGap) // the next checkpoint is not held back by the last
	base := runs()
	start := time.Now()
	for i := range 5 {
		e := Event{Time: t0.Add(time.Duration(i) * time.Second), Gate: "g", Format: checkpoint.FormatCCCD}
		if err := d.LogEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if settled(base+1, gap/2) {
		t.Fatalf("the event log's commits were checkpointed after %v, before their %v", time.Since(start), gap)
	}
	if !settled(base+1, gap) {
		t.Fatalf("no checkpoint %v after the event log's commits", time.Since(start))
	}
	if runs() != base+1 {
		t.Errorf("%d checkpoints for five entries, want one", runs()-base)
	}
	// An entry, then a feed's commit: the feed's does not wait for the
	// entry's window.
	time.Sleep(checkpointGap)
	base = runs()
	if err := d.LogEvent(ctx, Event{Time: t0, Gate: "g", Format: checkpoint.FormatCCCD}); err != nil {
		t.Fatal(err)
	}
	apply(t, d, []Record{{Hash: d.Hash("K1"), Color: checkpoint.Red}})
	if !settled(base+1, gap/2) {
		t.Fatal("a feed's commit waited for the event log's checkpoint window")
	}
}
