package feed

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"checkpoint/cache"
	"checkpoint/feed/format"
	"checkpoint/feed/publish"
)

// siteFeed is a test feed with sites a and b delegated.
func siteFeed(t *testing.T) *testFeed {
	t.Helper()
	f := newFeed(t)
	for _, s := range []string{"a", "b"} {
		if err := publish.SiteInit(f.dir, s, publish.SiteOptions{Clock: f.clk}); err != nil {
			t.Fatal(err)
		}
	}
	f.publish([]string{"W1,green,", "W2,green,", "W3,red,", "W4,yellow,"})
	return f
}

// sitePublish signs a site's list in the authority's own directory.
func (f *testFeed) sitePublish(site string, rows ...string) *publish.SiteResult {
	f.t.Helper()
	key, err := publish.ReadKey(publish.SiteKeyPath(f.dir, site))
	if err != nil {
		f.t.Fatal(err)
	}
	res, err := publish.SitePublish(context.Background(), f.dir, site, strings.NewReader(strings.Join(rows, "\n")+"\n"), key, publish.SiteOptions{Clock: f.clk})
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func (f *testFeed) refresh() {
	f.t.Helper()
	if err := publish.Refresh(f.dir, f.opts); err != nil {
		f.t.Fatal(err)
	}
}

// listed checks which keys the device's site list holds.
func (d *device) listed(t *testing.T, want map[string]bool) {
	t.Helper()
	for k, w := range want {
		_, ok, err := d.db.Listed(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		if ok != w {
			t.Errorf("listed(%s) = %v, want %v", k, ok, w)
		}
	}
}

func siteDevice(t *testing.T, f *testFeed, site string) *device {
	return f.device(t, cache.Options{}, func(o *Options) { o.Site = site })
}

// TestSiteLists: each gate takes its own site's list, signed by the site and
// carried into the authority's snapshot unchanged by the next refresh or
// publish; a site on another machine sends its files for import.
func TestSiteLists(t *testing.T) {
	f := siteFeed(t)
	da, db := siteDevice(t, f, "a"), siteDevice(t, f, "b")
	da.sync(t)
	if _, held := da.db.SiteList(); held {
		t.Error("a list before the site published one")
	}
	f.sitePublish("a", "qid,until", "W1,", "W3,", "W5,2099-01-01")
	f.sitePublish("b", "W2")
	f.refresh()
	if res := da.sync(t); res.Site != 2 || res.Mode != "none" {
		t.Errorf("sync after the refresh: %+v", res)
	}
	da.listed(t, map[string]bool{"W1": true, "W2": false, "W3": true, "W5": true})
	db.sync(t)
	db.listed(t, map[string]bool{"W1": false, "W2": true})
	if l, _ := da.db.SiteList(); l.Site != "a" || l.Version != 2 || l.Entries != 3 || !da.db.SiteListCurrent("a", f.clk.Now()) {
		t.Errorf("site list %+v", l)
	}
	// The role is served as the site signed it.
	signed, _ := os.ReadFile(filepath.Join(f.dir, "sites", "a", "signed", "2.site-a.json"))
	served, _ := os.ReadFile(filepath.Join(f.dir, "repo", "2.site-a.json"))
	if len(signed) == 0 || !bytes.Equal(signed, served) {
		t.Error("the served role differs from the one the site signed")
	}
	if res := da.sync(t); res.Site != 0 {
		t.Errorf("a sync with nothing new applied the list again: %+v", res)
	}

	// The site on a machine of its own: its kit and key, and its files
	// imported by the authority; a national publish carries them.
	siteDir := t.TempDir()
	copyTree(t, filepath.Join(siteDir, "sites", "a"), filepath.Join(f.dir, "sites", "a"))
	key, _ := publish.ReadKey(filepath.Join(siteDir, "sites", "a", "site.pem"))
	res, err := publish.SitePublish(context.Background(), siteDir, "a", strings.NewReader("W2\nW4\n"), key, publish.SiteOptions{Clock: f.clk})
	if err != nil || res.Version != 3 || len(res.Files) != 2 {
		t.Fatalf("site publish elsewhere: %+v %v", res, err)
	}
	if _, err := publish.SiteImport(f.dir, res.Files, publish.SiteOptions{Clock: f.clk}); err != nil {
		t.Fatal(err)
	}
	f.publish([]string{"W1,green,", "W2,green,", "W3,red,", "W4,green,"})
	if res := da.sync(t); res.Site != 3 || res.Mode != "delta" {
		t.Errorf("sync after import and publish: %+v", res)
	}
	da.listed(t, map[string]bool{"W1": false, "W2": true, "W4": true})
	da.want(t, map[string]string{"W4": "green"})
	if p := da.logs.problems(); len(p) != 0 {
		t.Errorf("problems logged: %q", p)
	}
}

// forgedRole is a role for site signed with key, listing files (target path
// to content); the list target gets the custom metadata of the feed's key.
func forgedRole(t *testing.T, f *testFeed, site string, key ed25519.PrivateKey, version int64, files map[string][]byte) ([]byte, map[string][]byte) {
	t.Helper()
	role := metadata.Targets(f.clk.Now().Add(30 * 24 * time.Hour))
	role.Signed.Version = version
	hashed := map[string][]byte{}
	for p, data := range files {
		tf, err := metadata.TargetFile().FromBytes(p, data, "sha256")
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(p, "people.bin.gz") {
			recs, _ := format.DecodeSiteList(data)
			c := json.RawMessage(fmt.Sprintf(`{"key_id":%q,"entries":%d}`, format.KeyID(hmacKey(t, f)), len(recs)))
			tf.Custom = &c
		}
		role.Signed.Targets[p] = tf
		d, base := path.Split(p)
		hashed[d+hex.EncodeToString(tf.Hashes["sha256"])+"."+base] = data
	}
	if err := publish.Sign(role, key); err != nil {
		t.Fatal(err)
	}
	b, err := role.ToBytes(false)
	if err != nil {
		t.Fatal(err)
	}
	return b, hashed
}

func hmacKey(t *testing.T, f *testFeed) []byte {
	b, _ := os.ReadFile(filepath.Join(f.dir, "state", "hashkey"))
	k := make([]byte, 32)
	fmt.Sscanf(strings.TrimSpace(string(b)), "%x", &k)
	return k
}

// listOf is a site list of keys hashed with the feed's key.
func listOf(t *testing.T, f *testFeed, keys ...string) []byte {
	var recs []cache.Record
	for _, k := range keys {
		var r cache.Record
		copy(r.Hash[:], hmacOf(t, f, k))
		recs = append(recs, r)
	}
	sortRecs(recs)
	b, err := format.EncodeSiteList(recs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sortRecs(recs []cache.Record) {
	for i := range recs {
		for j := i + 1; j < len(recs); j++ {
			if bytes.Compare(recs[j].Hash[:], recs[i].Hash[:]) < 0 {
				recs[i], recs[j] = recs[j], recs[i]
			}
		}
	}
}

// forceSnapshot puts roles (role name to metadata) and their targets into
// the served repository and signs a snapshot and timestamp over them with
// the authority's keys, as a publisher without its checks would: what the
// gates must refuse on their own.
func forceSnapshot(t *testing.T, f *testFeed, roles map[string][]byte, targets map[string][]byte) {
	t.Helper()
	repo := filepath.Join(f.dir, "repo")
	ts, err := metadata.Timestamp().FromFile(filepath.Join(repo, "timestamp.json"))
	if err != nil {
		t.Fatal(err)
	}
	sv := ts.Signed.Meta["snapshot.json"].Version
	sn, err := metadata.Snapshot().FromFile(filepath.Join(repo, fmt.Sprintf("%d.snapshot.json", sv)))
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range targets {
		os.MkdirAll(filepath.Dir(filepath.Join(repo, "targets", p)), 0o755)
		os.WriteFile(filepath.Join(repo, "targets", p), data, 0o644)
	}
	for name, b := range roles {
		var r metadata.Metadata[metadata.TargetsType]
		if _, err := r.FromBytes(b); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(repo, fmt.Sprintf("%d.%s.json", r.Signed.Version, name)), b, 0o644)
		mf := metadata.MetaFile(r.Signed.Version)
		h := sha256.Sum256(b)
		mf.Length, mf.Hashes = int64(len(b)), metadata.Hashes{"sha256": h[:]}
		sn.Signed.Meta[name+".json"] = mf
	}
	sn.Signed.Version++
	signWith(t, f, sn, "snapshot")
	sb, _ := sn.ToBytes(false)
	os.WriteFile(filepath.Join(repo, fmt.Sprintf("%d.snapshot.json", sn.Signed.Version)), sb, 0o644)
	ts.Signed.Version++
	smf := metadata.MetaFile(sn.Signed.Version)
	h := sha256.Sum256(sb)
	smf.Length, smf.Hashes = int64(len(sb)), metadata.Hashes{"sha256": h[:]}
	ts.Signed.Meta["snapshot.json"] = smf
	signWith(t, f, ts, "timestamp")
	tb, _ := ts.ToBytes(false)
	os.WriteFile(filepath.Join(repo, "timestamp.json"), tb, 0o644)
}

func signWith[T metadata.Roles](t *testing.T, f *testFeed, m *metadata.Metadata[T], role string) {
	t.Helper()
	k, err := publish.ReadKey(filepath.Join(f.dir, "keys", role+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := publish.Sign(m, k); err != nil {
		t.Fatal(err)
	}
}

func siteKey(t *testing.T, f *testFeed, site string) ed25519.PrivateKey {
	k, err := publish.ReadKey(publish.SiteKeyPath(f.dir, site))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSiteBoundaries: what a site's key may not do, refused by the
// authority's import and, when a snapshot carries it anyway, by the gate,
// which keeps its last good list while the national part of the same sync
// goes through.
func TestSiteBoundaries(t *testing.T) {
	good := map[string]bool{"W1": true, "W2": false}
	for _, tt := range []struct {
		name    string
		forge   func(t *testing.T, f *testFeed) (role string, b []byte, targets map[string][]byte)
		import_ string // SiteImport's error
		kind    string // the gate's refusal
	}{
		{
			name: "a list under sites/a/ signed by site b's key",
			forge: func(t *testing.T, f *testFeed) (string, []byte, map[string][]byte) {
				b, tg := forgedRole(t, f, "a", siteKey(t, f, "b"), 3, map[string][]byte{format.SiteListTarget("a"): listOf(t, f, "W1", "W2")})
				return "site-a", b, tg
			},
			import_: "not signed by the site's key", kind: KindSignature,
		},
		{
			name: "site a publishing statuses and side files",
			forge: func(t *testing.T, f *testFeed) (string, []byte, map[string][]byte) {
				var chunk bytes.Buffer
				format.EncodeChunk(&chunk, format.KindSnapshot, []cache.Record{{Hash: [16]byte{1}, Color: 2}}, 1)
				b, tg := forgedRole(t, f, "a", siteKey(t, f, "a"), 3, map[string][]byte{
					format.SiteListTarget("a"): listOf(t, f, "W1", "W2"),
					"manifest.json":            []byte(`{}`),
					"v9/snapshot-0.bin.gz":     chunk.Bytes(),
					"revocations.bin.gz":       []byte("x"),
					"rules.json":               []byte(`{"profile":"site"}`),
					"trustlist.pem":            []byte("x"),
				})
				return "site-a", b, tg
			},
			import_: "site a may publish only files sites/a/*", kind: KindFeed,
		},
		{
			name: "site a publishing site b's list",
			forge: func(t *testing.T, f *testFeed) (string, []byte, map[string][]byte) {
				b, tg := forgedRole(t, f, "a", siteKey(t, f, "a"), 3, map[string][]byte{format.SiteListTarget("b"): listOf(t, f, "W1")})
				return "site-a", b, tg
			},
			import_: "site a may publish only files sites/a/*", kind: KindFeed,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := siteFeed(t)
			f.sitePublish("a", "W1")
			f.refresh()
			d := siteDevice(t, f, "a")
			d.sync(t)
			d.listed(t, good)
			role, b, targets := tt.forge(t, f)
			// The authority's import refuses it.
			dir := t.TempDir()
			files := []string{filepath.Join(dir, "3."+role+".json")}
			os.WriteFile(files[0], b, 0o644)
			for p, data := range targets {
				files = append(files, filepath.Join(dir, filepath.Base(p)))
				os.WriteFile(files[len(files)-1], data, 0o644)
			}
			if _, err := publish.SiteImport(f.dir, files, publish.SiteOptions{Clock: f.clk}); err == nil || !strings.Contains(err.Error(), tt.import_) {
				t.Errorf("SiteImport: %v, want %q", err, tt.import_)
			}
			// Carried anyway, with a national change: the gate takes the
			// national part and refuses the site's.
			f.publish([]string{"W1,green,", "W2,yellow,", "W3,red,", "W4,yellow,"})
			forceSnapshot(t, f, map[string][]byte{role: b}, targets)
			res, err := d.s.SyncOnce(context.Background())
			if err != nil {
				t.Fatalf("sync: %v", err)
			}
			if res.To != 2 || res.SiteError == nil || Kind(res.SiteError) != tt.kind {
				t.Errorf("sync: to %d, site error %v (kind %q), want version 2 and kind %q", res.To, res.SiteError, Kind(res.SiteError), tt.kind)
			}
			d.want(t, map[string]string{"W2": "yellow"})
			d.listed(t, good)
			if l, _ := d.db.SiteList(); l.Version != 2 {
				t.Errorf("site list version %d, want the last good 2", l.Version)
			}
			if r, _ := d.db.Rules(context.Background()); r != nil {
				t.Errorf("rules %q from a site", r)
			}
			if st := d.s.Stats(); st.SiteError == "" {
				t.Error("Stats().SiteError empty after a refused list")
			}
			if !strings.Contains(d.logs.String(), "site list refused") {
				t.Errorf("no log line of the refusal:\n%s", d.logs)
			}
		})
	}
}

// TestSiteRollback: an older version of a site's role is refused by the
// authority's import, by the publisher, and by the gate whether a mirror
// serves the old file (the site's part refused, the national part applied)
// or a snapshot lists it (TUF refuses that snapshot whole, the cache keeps
// its last good state).
func TestSiteRollback(t *testing.T) {
	f := siteFeed(t)
	v2 := f.sitePublish("a", "W1")
	f.refresh()
	d := siteDevice(t, f, "a")
	d.sync(t)
	f.sitePublish("a", "W2")
	f.refresh()
	d.sync(t)
	d.listed(t, map[string]bool{"W1": false, "W2": true})
	if _, err := publish.SiteImport(f.dir, v2.Files, publish.SiteOptions{Clock: f.clk}); err == nil || !strings.Contains(err.Error(), "rollback") {
		t.Errorf("SiteImport of version 2 after 3: %v", err)
	}
	// A mirror serving the old role under the new one's name.
	old, _ := os.ReadFile(filepath.Join(f.dir, "repo", "2.site-a.json"))
	f.sitePublish("a", "W3")
	f.publish([]string{"W1,green,", "W2,red,"})
	f.setTamper(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/4.site-a.json") {
			w.Write(old)
			return true
		}
		return false
	})
	res, err := d.s.SyncOnce(context.Background())
	if err != nil || res.To != 2 || res.SiteError == nil {
		t.Fatalf("sync with the old role served: %+v %v", res, err)
	}
	d.want(t, map[string]string{"W2": "red"})
	d.listed(t, map[string]bool{"W2": true, "W3": false})
	f.setTamper(nil)
	// A snapshot listing the older role: refused whole.
	forceSnapshot(t, f, map[string][]byte{"site-a": old}, nil)
	if _, err := d.s.SyncOnce(context.Background()); Kind(err) != KindRollback {
		t.Errorf("snapshot rolling the site back: %v (kind %q), want a rollback", err, Kind(err))
	}
	d.want(t, map[string]string{"W2": "red"})
	d.listed(t, map[string]bool{"W2": true})
}

// TestSiteListExpires: a site role past its expiry is refused, and the list
// kept stops counting as current at that time.
func TestSiteListExpires(t *testing.T) {
	f := siteFeed(t)
	f.sitePublish("a", "W1")
	f.refresh()
	d := siteDevice(t, f, "a")
	d.sync(t)
	if !d.db.SiteListCurrent("a", f.clk.Now()) {
		t.Fatal("list not current after the sync")
	}
	f.clk.Add(publish.DefaultSiteExpiry + time.Hour)
	f.publish([]string{"W1,green,"})
	res, err := d.s.SyncOnce(context.Background())
	if err != nil || Kind(res.SiteError) != KindExpired {
		t.Fatalf("sync past the site's expiry: %+v %v", res, err)
	}
	if d.db.SiteListCurrent("a", f.clk.Now()) {
		t.Error("an expired list counts as current")
	}
	d.listed(t, map[string]bool{"W1": true})
}

// TestSiteRekey: a stolen site key is replaced; what the old key signs
// afterwards is refused, by the import and by the gate.
func TestSiteRekey(t *testing.T) {
	f := siteFeed(t)
	f.sitePublish("a", "W1")
	f.refresh()
	d := siteDevice(t, f, "a")
	d.sync(t)
	stolen := siteKey(t, f, "a")
	if err := publish.SiteInit(f.dir, "a", publish.SiteOptions{Clock: f.clk}); err == nil || !strings.Contains(err.Error(), "--rekey") {
		t.Errorf("site init of a delegated site: %v", err)
	}
	if err := publish.SiteInit(f.dir, "a", publish.SiteOptions{Clock: f.clk, Rekey: true}); err != nil {
		t.Fatal(err)
	}
	f.refresh()
	if res := d.sync(t); res.SiteError != nil {
		t.Fatalf("sync after the rekey: %+v", res)
	}
	if _, held := d.db.SiteList(); held {
		t.Error("the list signed with the old key survives the rekey")
	}
	b, targets := forgedRole(t, f, "a", stolen, 4, map[string][]byte{format.SiteListTarget("a"): listOf(t, f, "W2")})
	dir := t.TempDir()
	files := []string{filepath.Join(dir, "4.site-a.json")}
	os.WriteFile(files[0], b, 0o644)
	for p, data := range targets {
		files = append(files, filepath.Join(dir, path.Base(p)))
		os.WriteFile(files[len(files)-1], data, 0o644)
	}
	if _, err := publish.SiteImport(f.dir, files, publish.SiteOptions{Clock: f.clk}); err == nil || !strings.Contains(err.Error(), "not signed by the site's key") {
		t.Errorf("import of the old key's list: %v", err)
	}
	forceSnapshot(t, f, map[string][]byte{"site-a": b}, targets)
	if res, err := d.s.SyncOnce(context.Background()); err != nil || Kind(res.SiteError) != KindSignature {
		t.Errorf("sync of the old key's list: %+v %v", res, err)
	}
	d.listed(t, map[string]bool{"W2": false})
}
