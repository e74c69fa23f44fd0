package feed

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"checkpoint/cache"
)

// A sync cancelled while its chunks are written stops reading them (no
// reader is left behind), leaves the cache as it was, and the next sync
// applies every chunk in order.
func TestChunksStopWhenCancelled(t *testing.T) {
	f := newFeed(t)
	f.opts.ChunkRecords = 2
	m := f.publish([]string{"A,green,", "B,green,", "C,red,", "D,red,", "E,yellow,", "F,green,", "G,red,", "H,green,", "I,red,", "J,yellow,"})
	if len(m.Snapshot) != 5 {
		t.Fatalf("%d chunks", len(m.Snapshot))
	}
	d := f.device(t, cache.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var written int
	d.s.chunkDone = func(_, _, _ time.Duration) {
		if written++; written == 2 {
			cancel()
		}
	}
	if _, err := d.s.SyncOnce(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled sync: %v", err)
	}
	if written != 2 {
		t.Errorf("%d chunks written after the cancel at the second", written)
	}
	buf := make([]byte, 1<<20)
	if st := buf[:runtime.Stack(buf, true)]; bytes.Contains(st, []byte("readChunks")) {
		t.Errorf("a chunk reader runs on after the cancelled sync:\n%s", st)
	}
	if _, ok, err := d.db.Status(context.Background(), "A"); err != nil || ok {
		t.Fatalf("a cancelled snapshot left key A (%v, %v)", ok, err)
	}
	d.s.chunkDone = nil
	if res := d.sync(t); res.Applied != 10 || res.Mode != "snapshot" {
		t.Fatalf("second sync: %+v", res)
	}
	for k, want := range map[string]string{"A": "green", "C": "red", "E": "yellow", "J": "yellow"} {
		e, ok, err := d.db.Status(context.Background(), k)
		if err != nil || !ok || e.Color.String() != want {
			t.Errorf("key %s: %+v %v %v, want %s", k, e, ok, err, want)
		}
	}
}
