package feed

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"checkpoint/cache"
	"checkpoint/feed/publish"
)

func (f *testFeed) export(dest string) {
	f.t.Helper()
	if _, err := publish.Export(f.dir, dest); err != nil {
		f.t.Fatal(err)
	}
}

// TestSyncFromDirectory: a copy of the repository in a folder (a stick)
// verifies and applies as the network feed does, the site's list with it;
// a later export takes the deltas; an older copy is refused as a rollback.
func TestSyncFromDirectory(t *testing.T) {
	f := siteFeed(t)
	f.sitePublish("a", "W1")
	f.refresh()
	stick := filepath.Join(t.TempDir(), "feed")
	f.export(stick)
	d := f.device(t, cache.Options{}, func(o *Options) { o.Site, o.URL = "a", "" })
	res, err := d.s.SyncOnceFrom(context.Background(), stick)
	if err != nil || res.Mode != "snapshot" || res.To != 1 || res.Site != 2 {
		t.Fatalf("sync from the stick: %+v %v\n%s", res, err, d.logs)
	}
	d.want(t, map[string]string{"W1": "green", "W3": "red"})
	d.listed(t, map[string]bool{"W1": true, "W2": false})
	if st := d.s.Stats(); st.Directory.Version != 1 || st.Directory.Err != "" || st.Syncs != 0 {
		t.Errorf("stats after the stick: %+v", st)
	}
	old := filepath.Join(t.TempDir(), "old")
	copyTree(t, old, stick)

	f.publish([]string{"W1,red,", "W2,green,"})
	f.export(stick)
	if res, err := d.s.SyncFrom(context.Background(), stick); err != nil || res.Mode != "delta" || res.To != 2 {
		t.Fatalf("sync from the stick's second export: %+v %v", res, err)
	}
	d.want(t, map[string]string{"W1": "red", "W3": ""})
	// The export removed what version 2 no longer needs.
	if _, err := os.Stat(filepath.Join(stick, "1.snapshot.json")); err == nil {
		t.Error("the old snapshot metadata is still on the stick")
	}
	// A stick older than the gate's feed.
	res, err = d.s.SyncFrom(context.Background(), old)
	if Kind(err) != KindRollback {
		t.Fatalf("sync from an older stick: %+v %v (kind %q), want a rollback", res, err, Kind(err))
	}
	d.want(t, map[string]string{"W1": "red"})
	if st := d.s.Stats(); st.Directory.Kind != KindRollback || st.Failures != 0 || st.Consecutive != 0 {
		t.Errorf("stats after the old stick: %+v", st)
	}
	// Export refuses a folder holding something else.
	junk := t.TempDir()
	os.WriteFile(filepath.Join(junk, "notes.txt"), []byte("x"), 0o644)
	if _, err := publish.Export(f.dir, junk); err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("export into a folder of other files: %v", err)
	}
}

// TestForgedStick: what a stick may hold besides a good export is refused
// with the cache as it was, and nothing on it can make the sync hang or
// read outside the folder.
func TestForgedStick(t *testing.T) {
	f := newFeed(t)
	f.publish([]string{"A,green,"})
	other := newFeed(t)
	other.publish([]string{"A,red,", "X,green,"})
	for _, tt := range []struct {
		name  string
		forge func(t *testing.T, stick string)
		kind  string
	}{
		{"another feed's export", func(t *testing.T, stick string) {
			os.RemoveAll(stick)
			other.export(stick)
		}, KindSignature},
		{"a changed status chunk", func(t *testing.T, stick string) {
			for _, c := range snapshotChunks(t, stick) {
				b, _ := os.ReadFile(c)
				b[len(b)/2] ^= 1
				os.WriteFile(c, b, 0o644)
			}
		}, KindDigest},
		{"a missing chunk", func(t *testing.T, stick string) {
			for _, c := range snapshotChunks(t, stick) {
				os.Remove(c)
			}
		}, KindDownload},
		{"the manifest a symbolic link out of the folder", func(t *testing.T, stick string) {
			ms, _ := filepath.Glob(filepath.Join(stick, "targets", "*manifest.json"))
			outside := filepath.Join(t.TempDir(), "m.json")
			b, _ := os.ReadFile(ms[0])
			os.WriteFile(outside, b, 0o644)
			os.Remove(ms[0])
			os.Symlink(outside, ms[0])
		}, KindDownload},
		{"the timestamp a FIFO", func(t *testing.T, stick string) {
			os.Remove(filepath.Join(stick, "timestamp.json"))
			syscall.Mkfifo(filepath.Join(stick, "timestamp.json"), 0o644)
		}, KindDownload},
		{"no feed there", func(t *testing.T, stick string) { os.RemoveAll(stick) }, KindDownload},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := f.device(t, cache.Options{})
			d.sync(t)
			f.publish([]string{"A,yellow,", "B,green,"})
			defer f.publish([]string{"A,green,"})
			stick := filepath.Join(t.TempDir(), "feed")
			f.export(stick)
			tt.forge(t, stick)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := d.s.SyncFrom(ctx, stick); Kind(err) != tt.kind {
				t.Errorf("sync: %v (kind %q), want kind %q", err, Kind(err), tt.kind)
			}
			d.want(t, map[string]string{"A": "green", "B": "", "X": ""})
		})
	}
}

// snapshotChunks lists the status chunks (snapshot and deltas) of an export.
func snapshotChunks(t *testing.T, stick string) []string {
	t.Helper()
	chunks, _ := filepath.Glob(filepath.Join(stick, "targets", "v*", "*.bin.gz"))
	if len(chunks) == 0 {
		t.Fatal("no snapshot chunk in the export")
	}
	return chunks
}

// TestStickPulledDuringSync: the stick gone in the middle of a sync (its
// files vanish before the chunks are read) fails the sync and leaves the
// cache whole; plugged in again, it syncs.
func TestStickPulledDuringSync(t *testing.T) {
	f := newFeed(t)
	f.publish([]string{"A,green,"})
	d := f.device(t, cache.Options{})
	d.sync(t)
	f.publish([]string{"A,red,", "B,green,"})
	stick := filepath.Join(t.TempDir(), "feed")
	f.export(stick)
	saved := filepath.Join(t.TempDir(), "saved")
	copyTree(t, saved, stick)
	pulled := false
	d.s.dirOpening = func(name string) {
		if strings.HasPrefix(name, "targets/v2/") && !pulled {
			pulled = true
			os.RemoveAll(stick)
		}
	}
	if _, err := d.s.SyncFrom(context.Background(), stick); err == nil || !pulled {
		t.Fatalf("sync with the stick pulled: %v (pulled %v)", err, pulled)
	}
	d.want(t, map[string]string{"A": "green", "B": ""})
	if d.db.Version() != 1 {
		t.Errorf("version %d after the pulled stick", d.db.Version())
	}
	copyTree(t, stick, saved)
	if res, err := d.s.SyncFrom(context.Background(), stick); err != nil || res.To != 2 {
		t.Fatalf("sync with the stick back: %+v %v", res, err)
	}
	d.want(t, map[string]string{"A": "red", "B": "green"})
}
