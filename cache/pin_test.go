package cache

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"checkpoint"
)

// TestPinKeepsCheckpointing: the read transaction that spares lookups their
// lock system calls (pin.go) is held after Open and after every checkpoint,
// and never keeps a commit's frames out of the database file or the WAL
// from being truncated.
func TestPinKeepsCheckpointing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cache.db")
	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// The checkpointer lets go of the pin while it copies: wait for it.
	held := func(when string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			d.pin.mu.Lock()
			ok := d.pin.tx != nil
			d.pin.mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the read pin is not held", when)
			}
		}
	}
	held("after Open")
	snapshot(t, d, 500)
	apply(t, d, []Record{{Hash: d.Hash("K1"), Color: checkpoint.Red}})
	// The background checkpointer copies the frames back, pin or not.
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var busy, log, done int
		if err := raw.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done); err != nil {
			t.Fatal(err)
		}
		if log == done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("WAL frames never copied back: %d of %d", done, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	held("after the background checkpoint")
	if err := d.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() != 0 {
		t.Fatalf("WAL after Checkpoint: %v %v, want truncated", fi.Size(), err)
	}
	held("after Checkpoint")
	if e, ok, err := d.Status(ctx, "K1"); err != nil || !ok || e.Color != checkpoint.Red {
		t.Fatalf("K1 = %v %v %v", e, ok, err)
	}
}

// CheckpointPassive copies every committed frame back, even while another
// connection holds a read transaction begun before it, and leaves the
// WAL's file in place for the next commit to write over.
func TestCheckpointPassive(t *testing.T) {
	ctx := context.Background()
	d := newTestDB(t, Options{})
	path := d.Path()
	snapshot(t, d, 500)
	if err := d.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	apply(t, d, []Record{{Hash: d.Hash("K1"), Color: checkpoint.Red}})
	if err := d.CheckpointPassive(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var busy, log, done int
	if err := raw.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done); err != nil {
		t.Fatal(err)
	}
	if log == 0 || done != log {
		t.Fatalf("after CheckpointPassive %d of %d WAL frames copied back, want all of at least one", done, log)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("WAL after CheckpointPassive: %v, want kept", err)
	}
}
