package cache

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestStagePerOpen: a second open of the same cache (another process: a
// command run beside the daemon) leaves the first one's stage alone, so the
// first can still write a snapshot and merge; each open's stage goes with
// its Close, and one left by a process that is gone is removed. The stage
// was one shared file, replaced by every open: the daemon's next write to
// it failed ("disk I/O error: no such file or directory").
func TestStagePerOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cache.db")
	// A stage left by a process that is gone, and one of the old shared name.
	for _, p := range []string{path + stageSuffix, path + stageSuffix + "-999999999-1"} {
		if err := os.WriteFile(p, []byte("left by a crash"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	before, err := os.Stat(a.stage)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if after, err := os.Stat(a.stage); err != nil || !os.SameFile(before, after) {
		t.Fatalf("the second open replaced the first one's stage file (%v)", err)
	}
	snapshot(t, a, 40) // through a's stage, after b's open
	check(t, a, 40, nil)
	if _, err := a.MergeDeltas(ctx, true); err != nil {
		t.Fatal(err)
	}
	stages := func() []string {
		m, _ := filepath.Glob(path + stageSuffix + "*")
		return m
	}
	if got := stages(); len(got) != 2 {
		t.Fatalf("stages with two opens: %v, want one each (the crashed ones removed)", got)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := stages(); len(got) != 1 || got[0] != a.stage {
		t.Fatalf("stages after one close: %v, want only %s", got, a.stage)
	}
	if want := path + stageSuffix + "-" + strconv.Itoa(os.Getpid()) + "-"; len(a.stage) <= len(want) || a.stage[:len(want)] != want {
		t.Fatalf("stage %s not named after this process", a.stage)
	}
}
