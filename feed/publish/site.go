package publish

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"checkpoint"
	"checkpoint/cache"
	"checkpoint/feed/format"
	"checkpoint/internal/atomicfile"
)

// Sites. `SiteInit` delegates the paths sites/NAME/* of the authority's
// targets metadata to a key of the site's own (see package format), kept
// in a feed directory as:
//
//	state/delegations.json   the delegations the targets metadata carries
//	sites/NAME/site.pem      the site's signing key: for the site to keep
//	sites/NAME/site.json     the site's kit (SiteKit): what SitePublish needs
//	sites/NAME/signed/       the site's signed role, N.site-NAME.json, and its
//	                         targets under targets/sites/NAME/ (hash-named)
//
// SitePublish writes a new version into signed/, signed with the site key
// only; on another machine the site sends those files to the authority,
// whose SiteImport checks them into its own signed/. The authority's next
// Publish or Refresh copies the newest signed role into repo/ and lists it
// in the snapshot, without re-signing it.

// DefaultSiteExpiry is the lifetime of a site's signed list: gates that
// require it treat it as stale after that.
const DefaultSiteExpiry = 30 * 24 * time.Hour

// SiteKit is what a site needs to publish its list.
type SiteKit struct {
	Site string `json:"site"`
	Role string `json:"role"`
	// HashKey is the feed's hash key in hex: entries are hashed with it as
	// the statuses are (every gate holds it too).
	HashKey string        `json:"hash_key"`
	Key     *metadata.Key `json:"key"` // the site's public key
}

// SiteOptions tune SiteInit, SitePublish and SiteImport.
type SiteOptions struct {
	Clock  checkpoint.Clock // SystemClock when nil
	Expiry time.Duration    // of the signed list: DefaultSiteExpiry when zero
	Rekey  bool             // SiteInit: replace a delegated site's key
}

func (o *SiteOptions) defaults() {
	if o.Clock == nil {
		o.Clock = checkpoint.SystemClock{}
	}
	if o.Expiry <= 0 {
		o.Expiry = DefaultSiteExpiry
	}
}

// SiteResult is one signed version of a site's list.
type SiteResult struct {
	Site    string
	Version int64
	Entries int64
	Expires time.Time
	Files   []string // the files written: what a site on another machine sends
}

// SiteKeyPath is where SiteInit writes the site's private key.
func SiteKeyPath(dir, site string) string { return filepath.Join(dir, "sites", site, "site.pem") }

func signedDir(dir, site string) string { return filepath.Join(dir, "sites", site, "signed") }

func delegationsPath(dir string) string { return filepath.Join(dir, "state", "delegations.json") }

// readDelegations reads the delegations state (nil: no site yet).
func readDelegations(dir string) (*metadata.Delegations, error) {
	b, err := os.ReadFile(delegationsPath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var d metadata.Delegations
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("state/delegations.json: %w", err)
	}
	return &d, nil
}

// SiteInit makes a site's key pair (written once, SiteKeyPath), its kit and
// an empty first version of its list, and delegates sites/NAME/* to the key
// in the feed's state: the next Publish or Refresh signs the delegation.
// With opts.Rekey it replaces the key of a delegated site (lost or stolen):
// the list starts empty again, in a version the old key never signed,
// until the site publishes with the new key.
func SiteInit(dir, site string, opts SiteOptions) error {
	opts.defaults()
	if err := format.CheckSiteName(site); err != nil {
		return err
	}
	r, err := openRepo(dir)
	if err != nil {
		return fmt.Errorf("site init %s: %w", site, err)
	}
	role := format.SiteRole(site)
	delegated := r.delegations != nil && slices.ContainsFunc(r.delegations.Roles, func(d metadata.DelegatedRole) bool { return d.Name == role })
	sdir := filepath.Join(dir, "sites", site)
	_, serr := os.Stat(sdir)
	switch {
	case delegated && !opts.Rekey:
		return fmt.Errorf("site init %s: the site is already delegated (its key is made once; a lost or stolen key is replaced with --rekey)", site)
	case !delegated && opts.Rekey:
		return fmt.Errorf("site init %s: the site is not delegated: nothing to rekey", site)
	case !delegated && serr == nil:
		return fmt.Errorf("site init %s: %s already exists", site, sdir)
	}
	v, _, err := newestSigned(dir, role, site)
	if err != nil {
		return fmt.Errorf("site init %s: %w", site, err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	pub, err := metadata.KeyFromPublicKey(priv.Public())
	if err != nil {
		return err
	}
	kit := SiteKit{Site: site, Role: role, HashKey: hex.EncodeToString(r.hashKey), Key: pub}
	if err := writeKit(sdir, kit, priv); err != nil {
		return fmt.Errorf("site init %s: %w", site, err)
	}
	if _, err := signSite(dir, kit, priv, v+1, nil, opts); err != nil {
		return fmt.Errorf("site init %s: %w", site, err)
	}
	return delegate(dir, r.delegations, kit)
}

// writeKit writes the site's key (0600) and kit into sdir.
func writeKit(sdir string, kit SiteKit, priv ed25519.PrivateKey) error {
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		return err
	}
	if err := writeKey(filepath.Join(sdir, "site.pem"), priv); err != nil {
		return err
	}
	b, err := json.MarshalIndent(kit, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(sdir, "site.json"), append(b, '\n'), 0o600)
}

// delegate delegates sites/NAME/* to the kit's key in the delegations
// state (terminating, threshold 1), replacing the site's former key.
func delegate(dir string, d *metadata.Delegations, kit SiteKit) error {
	if d == nil {
		d = &metadata.Delegations{Keys: map[string]*metadata.Key{}}
	}
	id, err := kit.Key.ID()
	if err != nil {
		return err
	}
	d.Keys[id] = kit.Key
	dr := metadata.DelegatedRole{Name: kit.Role, KeyIDs: []string{id}, Threshold: 1,
		Terminating: true, Paths: []string{format.SitePattern(kit.Site)}}
	if i := slices.IndexFunc(d.Roles, func(r metadata.DelegatedRole) bool { return r.Name == kit.Role }); i >= 0 {
		for _, old := range d.Roles[i].KeyIDs {
			delete(d.Keys, old)
		}
		d.Roles[i] = dr
	} else {
		d.Roles = append(d.Roles, dr)
	}
	b, err := json.MarshalIndent(d, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.Write(delegationsPath(dir), append(b, '\n'), 0o600)
}

// ReadSiteKit reads the kit SiteInit wrote for site in dir.
func ReadSiteKit(dir, site string) (SiteKit, error) {
	var kit SiteKit
	if err := format.CheckSiteName(site); err != nil {
		return kit, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "sites", site, "site.json"))
	if err != nil {
		return kit, fmt.Errorf("read the site's kit (made by feed site init): %w", err)
	}
	if err := json.Unmarshal(b, &kit); err != nil || kit.Site != site || kit.Key == nil {
		return kit, fmt.Errorf("sites/%s/site.json is not the kit of site %s", site, site)
	}
	if k, err := hex.DecodeString(kit.HashKey); err != nil || len(k) != cache.KeySize {
		return kit, fmt.Errorf("sites/%s/site.json: hash_key is not %d bytes of hex", site, cache.KeySize)
	}
	return kit, nil
}

// SitePublish reads the site's list (format.ParseSiteListCSV), hashes its
// keys with the feed's hash key and signs it, with key only, as the site's
// next version in sites/NAME/signed/. On a bad row nothing is written and
// the error names the line.
func SitePublish(ctx context.Context, dir, site string, people io.Reader, key ed25519.PrivateKey, opts SiteOptions) (*SiteResult, error) {
	opts.defaults()
	kit, err := ReadSiteKit(dir, site)
	if err != nil {
		return nil, err
	}
	if pub, err := metadata.KeyFromPublicKey(key.Public()); err != nil || !sameKey(pub, kit.Key) {
		return nil, fmt.Errorf("site publish %s: the key given is not the site's key (sites/%s/site.json)", site, site)
	}
	rows, err := format.ParseSiteListCSV(people)
	if err != nil {
		return nil, fmt.Errorf("site publish %s: people: %w", site, err)
	}
	hk, _ := hex.DecodeString(kit.HashKey)
	recs, err := hashSiteRows(rows, hk)
	if err != nil {
		return nil, fmt.Errorf("site publish %s: people: %w", site, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v, _, err := newestSigned(dir, kit.Role, site)
	if err != nil {
		return nil, fmt.Errorf("site publish %s: %w", site, err)
	}
	res, err := signSite(dir, kit, key, v+1, recs, opts)
	if err != nil {
		return nil, fmt.Errorf("site publish %s: %w", site, err)
	}
	return res, nil
}

func sameKey(a, b *metadata.Key) bool {
	ia, err1 := a.ID()
	ib, err2 := b.ID()
	return err1 == nil && err2 == nil && ia == ib
}

// hashSiteRows hashes, sorts and checks the list's keys.
func hashSiteRows(rows []format.SiteRow, key []byte) ([]cache.Record, error) {
	type row struct {
		rec  cache.Record
		line int
	}
	hashed := make([]row, len(rows))
	for i, r := range rows {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(r.Key))
		copy(hashed[i].rec.Hash[:], m.Sum(nil))
		hashed[i].rec.ValidUntil, hashed[i].line = r.Until, r.Line
	}
	slices.SortFunc(hashed, func(a, b row) int {
		if c := bytes.Compare(a.rec.Hash[:], b.rec.Hash[:]); c != 0 {
			return c
		}
		return a.line - b.line
	})
	recs := make([]cache.Record, len(hashed))
	for i, h := range hashed {
		if i > 0 && h.rec.Hash == hashed[i-1].rec.Hash {
			return nil, &cache.LineError{Line: h.line, Msg: fmt.Sprintf("qid repeats line %d", hashed[i-1].line)}
		}
		recs[i] = h.rec
	}
	return recs, nil
}

// signSite writes version v of the site's role listing recs (none for an
// empty first version: no list target) into signed/.
func signSite(dir string, kit SiteKit, key ed25519.PrivateKey, v int64, recs []cache.Record, opts SiteOptions) (*SiteResult, error) {
	now := opts.Clock.Now().UTC()
	sd := signedDir(dir, kit.Site)
	res := &SiteResult{Site: kit.Site, Version: v, Entries: int64(len(recs)), Expires: now.Add(opts.Expiry)}
	role := metadata.Targets(res.Expires)
	role.Signed.Version = v
	if recs != nil {
		data, err := format.EncodeSiteList(recs)
		if err != nil {
			return nil, err
		}
		hk, _ := hex.DecodeString(kit.HashKey)
		tf, err := metadata.TargetFile().FromBytes(format.SiteListTarget(kit.Site), data, "sha256")
		if err != nil {
			return nil, err
		}
		custom := json.RawMessage(fmt.Sprintf(`{"key_id":%q,"entries":%d}`, format.KeyID(hk), len(recs)))
		tf.Custom = &custom
		name := filepath.Join(sd, "targets", filepath.FromSlash(hashedName(tf)))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return nil, err
		}
		if err := atomicfile.Write(name, data, 0o644); err != nil {
			return nil, err
		}
		role.Signed.Targets[tf.Path] = tf
		res.Files = append(res.Files, name)
	}
	if err := Sign(role, key); err != nil {
		return nil, err
	}
	b, err := role.ToBytes(false)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(sd, 0o755); err != nil {
		return nil, err
	}
	name := filepath.Join(sd, fmt.Sprintf("%d.%s.json", v, kit.Role))
	if err := atomicfile.Write(name, b, 0o644); err != nil {
		return nil, err
	}
	res.Files = append(res.Files, name)
	return res, nil
}

// hashedName is a target's path as consistent snapshots name it:
// DIR/HASH.BASE.
func hashedName(tf *metadata.TargetFiles) string {
	d, base := path.Split(tf.Path)
	return d + hex.EncodeToString(tf.Hashes["sha256"]) + "." + base
}

// newestSigned returns the highest version of role in the site's signed/
// and its bytes (0, nil when there is none).
func newestSigned(dir, role, site string) (int64, []byte, error) {
	ents, err := os.ReadDir(signedDir(dir, site))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, nil, err
	}
	var best int64
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), "."+role+".json"); ok {
			if v, err := strconv.ParseInt(n, 10, 64); err == nil && v > best {
				best = v
			}
		}
	}
	if best == 0 {
		return 0, nil, nil
	}
	b, err := os.ReadFile(filepath.Join(signedDir(dir, site), fmt.Sprintf("%d.%s.json", best, role)))
	return best, b, err
}
