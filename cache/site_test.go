package cache

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// TestSiteList: a site list is written and cleared in an update, found by
// key with its end, described in memory and in the file (a reopened cache
// has it), and current only for its site until its role expires.
func TestSiteList(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cache.db")
	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.SiteList(); ok || d.SiteListCurrent("a", t0) {
		t.Fatal("a new cache holds a site list")
	}
	end := t0.Add(48 * time.Hour)
	var recs []Record
	for i, k := range []string{"W1", "W2", "W3"} {
		r := Record{Hash: d.Hash(k)}
		if i == 1 {
			r.ValidUntil = end.Unix()
		}
		recs = append(recs, r)
	}
	for i := 0; i < 600; i++ { // more than one batch
		recs = append(recs, Record{Hash: d.Hash(string(rune('a'+i%26)) + "-" + string(rune(i)))})
	}
	u, err := d.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.SetSiteList(SiteList{Site: "a", Version: 3, Expires: t0.Add(time.Hour)}, recs); err != nil {
		t.Fatal(err)
	}
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
	check := func(d *DB) {
		t.Helper()
		l, ok := d.SiteList()
		if !ok || l.Site != "a" || l.Version != 3 || l.Entries != int64(len(recs)) || !l.Expires.Equal(t0.Add(time.Hour)) {
			t.Errorf("SiteList() = %+v %v", l, ok)
		}
		if !d.SiteListCurrent("a", t0) || d.SiteListCurrent("b", t0) || d.SiteListCurrent("a", t0.Add(time.Hour)) {
			t.Error("SiteListCurrent wrong for the site, another site or after the expiry")
		}
		for k, want := range map[string]time.Time{"W1": {}, "W2": time.Unix(end.Unix(), 0).UTC()} {
			until, ok, err := d.Listed(ctx, k)
			if err != nil || !ok || !until.Equal(want) {
				t.Errorf("Listed(%s) = %v %v %v, want %v", k, until, ok, err, want)
			}
		}
		if _, ok, err := d.Listed(ctx, "W4"); ok || err != nil {
			t.Errorf("Listed(W4) = %v %v", ok, err)
		}
	}
	check(d)
	d.Close()
	if d, err = Open(ctx, path, Options{}); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	check(d)
	// Statuses and the list are apart: a snapshot does not touch the list.
	snapshot(t, d, 10)
	check(d)
	u, err = d.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.ClearSiteList(); err != nil {
		t.Fatal(err)
	}
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.SiteList(); ok {
		t.Error("site list still described after ClearSiteList")
	}
	if _, ok, _ := d.Listed(ctx, "W1"); ok {
		t.Error("W1 still listed after ClearSiteList")
	}
}

// TestSchema2UpgradeSites: a file of schema 2 (no site table) opens with
// its statuses and takes a site list.
func TestSchema2UpgradeSites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cache.db")
	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	snapshot(t, d, 20)
	d.Close()
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append([]string{"DROP TABLE site", "UPDATE meta SET v = 2 WHERE k = 'schema'"}, oldEventTables...) {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	raw.Close()
	if d, err = Open(ctx, path, Options{}); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	check(t, d, 20, nil)
	u, err := d.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.SetSiteList(SiteList{Site: "a", Version: 1, Expires: t0}, []Record{{Hash: d.Hash("W1")}}); err != nil {
		t.Fatal(err)
	}
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := d.Listed(ctx, "W1"); !ok {
		t.Error("W1 not listed after the upgrade")
	}
}
