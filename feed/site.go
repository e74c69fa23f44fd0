package feed

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"checkpoint/cache"
	"checkpoint/feed/format"
)

// metaSite records, in the cache, which site list version was applied.
const metaSite = "applied:site"

// siteChange is what a sync does to the cache's site list: set it (list
// and recs) or, with clear, remove it.
type siteChange struct {
	clear  bool
	list   cache.SiteList
	recs   []cache.Record
	marker string // metaSite after the change
}

// apply writes the change in u.
func (c *siteChange) apply(u *cache.Update) error {
	u.SetMeta(metaSite, []byte(c.marker))
	if c.clear {
		return u.ClearSiteList()
	}
	return u.SetSiteList(c.list, c.recs)
}

// errSite marks a refused site list: it never fails the national sync.
var errSite = errors.New("site list refused")

// siteList resolves the gate's own site list (Options.Site) in the verified
// metadata: walking the delegation of that site only, it returns the change
// to make (nil: none). A site role that fails any check (signature,
// expiry, rollback, hashes, paths outside sites/SITE/) is refused with an
// error wrapping errSite, and the cache keeps its last good list.
func (s *Syncer) siteList(ctx context.Context, up *repo, m *format.Manifest) (*siteChange, error) {
	site := s.cfg.Site
	old, err := s.db.Meta(ctx, metaSite)
	if err != nil {
		return nil, err
	}
	clear := func(why string) *siteChange {
		marker := "none " + why
		if _, held := s.db.SiteList(); !held && string(old) == marker {
			return nil
		}
		return &siteChange{clear: true, marker: marker}
	}
	if site == "" {
		return clear("no site"), nil
	}
	trusted := up.GetTrustedMetadataSet()
	role := format.SiteRole(site)
	if !delegated(trusted.Targets[metadata.TARGETS], site) {
		return clear("site " + site + " not delegated"), nil
	}
	path := format.SiteListTarget(site)
	tf, lerr := up.GetTargetInfo(path)
	md := up.GetTrustedMetadataSet().Targets[role]
	if md == nil {
		if lerr == nil {
			lerr = errors.New("its list is in the authority's targets, not signed by the site")
		}
		return nil, fmt.Errorf("%w: site %s: %w", errSite, site, lerr)
	}
	if md.Signed.Delegations != nil {
		return nil, fmt.Errorf("%w: %w: site %s delegates further", errSite, errFeed, site)
	}
	if err := format.CheckSitePaths(site, slices.Collect(maps.Keys(md.Signed.Targets))); err != nil {
		return nil, fmt.Errorf("%w: %w: %w", errSite, errFeed, err)
	}
	own, listed := md.Signed.Targets[path]
	switch {
	case !listed:
		return clear(fmt.Sprintf("site %s version %d lists nobody", site, md.Signed.Version)), nil
	case lerr != nil || !sameTarget(tf, own):
		return nil, fmt.Errorf("%w: %w: site %s: the list found is not the one the site signed", errSite, errFeed, site)
	}
	keyID := format.KeyID(m.Key())
	marker := fmt.Sprintf("%s %d %s %s", site, md.Signed.Version, hex.EncodeToString(own.Hashes["sha256"]), keyID)
	if _, held := s.db.SiteList(); held && string(old) == marker {
		return nil, nil
	}
	recs, err := s.siteRecords(up, own, keyID)
	if err != nil {
		return nil, fmt.Errorf("%w: site %s: %w", errSite, site, err)
	}
	return &siteChange{list: cache.SiteList{Site: site, Version: md.Signed.Version, Expires: md.Signed.Expires}, recs: recs, marker: marker}, nil
}

// delegated reports whether top delegates the site's pattern, and only it,
// to the site's role.
func delegated(top *metadata.Metadata[metadata.TargetsType], site string) bool {
	if top == nil || top.Signed.Delegations == nil {
		return false
	}
	for _, d := range top.Signed.Delegations.Roles {
		if d.Name == format.SiteRole(site) {
			return slices.Equal(d.Paths, []string{format.SitePattern(site)})
		}
	}
	return false
}

func sameTarget(a, b *metadata.TargetFiles) bool {
	return a != nil && b != nil && a.Length == b.Length && string(a.Hashes["sha256"]) == string(b.Hashes["sha256"])
}

// siteRecords downloads and checks the site's list, made with the hash key
// keyID names.
func (s *Syncer) siteRecords(up *repo, tf *metadata.TargetFiles, keyID string) ([]cache.Record, error) {
	var raw []byte
	if tf.Custom != nil {
		raw = *tf.Custom
	}
	info, err := format.ParseSiteListInfo(raw)
	if err != nil {
		return nil, err
	}
	if info.KeyID != keyID {
		return nil, errors.New("the list was made with another hash key than the feed's")
	}
	b, err := up.target(tf.Path, s.cfg.MaxTarget)
	if err != nil {
		return nil, err
	}
	recs, err := format.DecodeSiteList(b)
	if err != nil {
		return nil, err
	}
	if int64(len(recs)) != info.Entries {
		return nil, fmt.Errorf("the list holds %d entries, its metadata says %d", len(recs), info.Entries)
	}
	return recs, nil
}
