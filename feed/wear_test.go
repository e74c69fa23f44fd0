package feed

import (
	"context"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"checkpoint/cache"
)

// fileState is what a write to a file changes: a rewrite renamed into place
// changes the inode, an overwrite the size or modification time.
type fileState struct {
	ino, size int64
	mtime     int64
}

// tree lists every file under dir with its state.
func tree(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	m := map[string]fileState{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		m[p] = fileState{ino: int64(st.Ino), size: fi.Size(), mtime: fi.ModTime().UnixNano()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A sync that finds nothing new writes nothing to the card: not the
// cache, not the trusted metadata, not a download. A gate syncs every few
// minutes all day, so each such write is multiplied by hundreds a day.
func TestIdleSyncWritesNothing(t *testing.T) {
	f := newFeed(t)
	f.publish([]string{"qid,status,valid_until", "A,green,", "B,red,"})
	d := f.device(t, cache.Options{})
	if res := d.sync(t); res.Mode != "snapshot" {
		t.Fatalf("first sync: %+v", res)
	}
	// The snapshot's checkpoint runs in the background: have it done.
	if err := d.db.CheckpointPassive(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := tree(t, filepath.Dir(d.path))
	for i := 0; i < 3; i++ {
		if res := d.sync(t); res.Mode != "none" {
			t.Fatalf("idle sync %d: %+v", i, res)
		}
	}
	after := tree(t, filepath.Dir(d.path))
	for p, b := range before {
		a, ok := after[p]
		switch {
		case !ok:
			t.Errorf("%s removed by an idle sync", p)
		case a != b:
			t.Errorf("%s written by an idle sync: %+v, was %+v", p, a, b)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s created by an idle sync", p)
		}
	}
	d.want(t, map[string]string{"A": "green", "B": "red"})

	// What the updater verifies is still stored: a new version's metadata.
	f.publish([]string{"A,red,", "B,red,"})
	if res := d.sync(t); res.Mode != "delta" {
		t.Fatalf("sync after a publish: %+v", res)
	}
	now := tree(t, filepath.Dir(d.path))
	for _, role := range []string{"timestamp.json", "snapshot.json", "targets.json"} {
		p := filepath.Join(filepath.Dir(d.path), "feed", "metadata", role)
		if b, ok := after[p]; !ok || now[p] == b {
			t.Errorf("%s not stored again after a new version (%+v, was %+v)", role, now[p], b)
		}
	}
}

// A small delta is downloaded, verified and applied from memory: its chunk
// is never a file on the card. A bigger sync's downloads still go to the
// folder (TestInterruptedDownloadResumes).
func TestSmallDownloadsHeldInMemory(t *testing.T) {
	for _, hold := range []int64{0, -1} {
		f := newFeed(t)
		f.publish([]string{"qid,status,valid_until", "A,green,", "B,red,"})
		d := f.device(t, cache.Options{}, func(o *Options) { o.HoldDownloads = hold })
		d.sync(t)
		var seen []string
		look := func() {
			ents, _ := os.ReadDir(filepath.Join(d.s.cfg.Dir, "targets"))
			for _, e := range ents {
				seen = append(seen, e.Name())
			}
		}
		d.s.afterBegin, d.s.beforeCommit = look, look
		var fetched atomic.Int32
		f.setTamper(func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "delta-") {
				fetched.Add(1)
			}
			return false
		})
		f.publish([]string{"A,red,", "B,red,", "C,green,"})
		if res := d.sync(t); res.Mode != "delta" || res.Applied != 2 {
			t.Fatalf("delta sync (hold %d): %+v", hold, res)
		}
		d.want(t, map[string]string{"A": "red", "C": "green"})
		chunks := slices.DeleteFunc(seen, func(n string) bool { return n == "manifest.json" })
		if hold == 0 && len(chunks) != 0 {
			t.Errorf("a small delta's downloads were written to the folder: %v", chunks)
		}
		if hold < 0 && len(chunks) == 0 {
			t.Error("with HoldDownloads < 0 the delta's chunk was not in the folder before the apply")
		}
		if n := fetched.Load(); n != 1 {
			t.Errorf("the delta's chunk was fetched %d times (hold %d), want once", n, hold)
		}
	}
}

// A big apply starts on an empty WAL, so that its frames are appended (an
// old WAL written over is read back block by block where the page cache
// lost it); a small one writes over the WAL's start, which keeps its
// blocks.
func TestBigApplyStartsOnAnEmptyWAL(t *testing.T) {
	for _, big := range []bool{true, false} {
		f := newFeed(t)
		f.publish([]string{"qid,status,valid_until", "A,green,", "B,red,"})
		hold := int64(0) // the default: these few bytes are small
		if big {
			hold = 1
		}
		d := f.device(t, cache.Options{}, func(o *Options) { o.HoldDownloads = hold })
		d.sync(t)
		wal := int64(-1)
		d.s.afterBegin = func() {
			if fi, err := os.Stat(d.path + "-wal"); err == nil {
				wal = fi.Size()
			}
		}
		f.publish([]string{"A,red,", "B,red,", "C,green,"})
		if res := d.sync(t); res.Mode != "delta" {
			t.Fatalf("delta sync: %+v", res)
		}
		if big && wal != 0 {
			t.Errorf("a big apply began with a WAL of %d bytes, want an empty one", wal)
		}
		if !big && wal <= 0 {
			t.Errorf("a small apply began with a WAL of %d bytes: the WAL was emptied for it", wal)
		}
		d.want(t, map[string]string{"A": "red", "C": "green"})
	}
}
