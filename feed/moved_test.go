package feed

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"checkpoint"
	"checkpoint/cache"
)

// TestGateMovedToAnotherFeed (issue 16): a synced gate given another feed's
// URL and root.json starts over from that root, logging it once, keeps
// serving its old cache until the new feed's first verified snapshot
// replaces it, even across a restart, and accepts that feed's lower version.
func TestGateMovedToAnotherFeed(t *testing.T) {
	a := newFeed(t)
	for _, rows := range [][]string{{"A1,green,"}, {"A1,red,", "A2,green,"}, {"A1,red,", "A2,green,", "A3,yellow,"}} {
		a.publish(rows)
	}
	d := a.device(t, cache.Options{})
	if res := d.sync(t); res.To != 3 {
		t.Fatalf("first sync: %+v", res)
	}
	b := newFeed(t)
	b.publish([]string{"B1,green,", "A2,red,"})
	dead := httptest.NewServer(nil)
	dead.Close()
	move := func(url string, root []byte) *Syncer {
		t.Helper()
		s, err := NewSyncer(d.db, Options{URL: url, Root: root, Dir: filepath.Join(filepath.Dir(d.path), "feed"),
			Timeout: 5 * time.Second, Clock: checkpoint.FloorClock{Clock: a.clk, Floor: d.db.FeedTime},
			Logger: slog.New(slog.NewTextHandler(d.logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// The new feed is not reachable yet: the old cache goes on serving.
	if _, err := move(dead.URL, b.root()).SyncOnce(context.Background()); err == nil {
		t.Fatal("sync from a dead server succeeded")
	}
	d.want(t, map[string]string{"A1": "red", "A2": "green", "B1": ""})
	if d.db.Version() != 3 {
		t.Errorf("version %d after the failed sync, want the old feed's 3", d.db.Version())
	}
	// Restarted, on the new feed: its snapshot replaces the old cache.
	s := move(b.srv.URL, b.root())
	res, err := s.SyncOnce(context.Background())
	if err != nil {
		t.Fatalf("sync from the new feed: %v\n%s", err, d.logs)
	}
	if res.Mode != "snapshot" || res.To != 1 {
		t.Errorf("sync from the new feed: %+v", res)
	}
	d.want(t, map[string]string{"A1": "", "A2": "red", "A3": "", "B1": "green"})
	if res, err := s.SyncOnce(context.Background()); err != nil || res.Mode != "none" {
		t.Errorf("next sync: %+v %v", res, err)
	}
	if n := strings.Count(d.logs.String(), "feed root changed"); n != 1 {
		t.Errorf("%d log lines about the new root, want 1:\n%s", n, d.logs)
	}
	// The new feed's rollback protection holds from then on.
	b.publish([]string{"B1,red,"})
	if res, err := s.SyncOnce(context.Background()); err != nil || res.To != 2 {
		t.Fatalf("sync of version 2: %+v %v", res, err)
	}
	if _, err := move(a.srv.URL, b.root()).SyncOnce(context.Background()); Kind(err) != KindSignature {
		t.Errorf("the old feed under the new root: %v (kind %q), want a signature error", err, Kind(err))
	}
	d.want(t, map[string]string{"B1": "red"})
}
