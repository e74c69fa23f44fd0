package cache

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SiteList describes the list of people a site (a factory, a business)
// admits, as the cache holds it: keyed hashes, each with an optional end,
// in the site table. It carries no status: the national one decides.
type SiteList struct {
	Site    string    `json:"site"`    // the site whose list it is
	Version int64     `json:"version"` // version of the site's signed role
	Expires time.Time `json:"expires"` // expiry of that role: the list is stale after it
	Entries int64     `json:"entries"`
}

// SiteList returns the site list held, if any.
func (d *DB) SiteList() (SiteList, bool) {
	if l := d.site.Load(); l != nil {
		return *l, true
	}
	return SiteList{}, false
}

// SiteListCurrent reports whether the cache holds site's list and its
// signed role has not expired at now (pass the floored time).
func (d *DB) SiteListCurrent(site string, now time.Time) bool {
	l := d.site.Load()
	return l != nil && l.Site == site && now.Before(l.Expires)
}

// Listed reports whether key is on the site list, and until when (zero:
// no end). An entry past its end is still returned: the caller decides.
func (d *DB) Listed(ctx context.Context, key string) (time.Time, bool, error) {
	h := d.Hash(key)
	var u int64
	err := d.listed.QueryRowContext(ctx, h[:]).Scan(&u)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, fmt.Errorf("look up site list: %w", classify(err))
	case u == 0:
		return time.Time{}, true, nil
	}
	return time.Unix(u, 0).UTC(), true, nil
}

// loadSite reads the site list's description from meta.
func (d *DB) loadSite(ctx context.Context) error {
	b, err := d.metaBytes(ctx, metaSite)
	if err != nil || len(b) == 0 {
		d.site.Store(nil)
		return err
	}
	var l SiteList
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("%w: site list description: %v", ErrCorrupt, err)
	}
	d.site.Store(&l)
	return nil
}

// SetSiteList replaces the site list with recs (sorted or not; Color and
// Delete are ignored), described by l.
func (u *Update) SetSiteList(l SiteList, recs []Record) error {
	if err := u.ClearSiteList(); err != nil {
		return err
	}
	for i := 0; i < len(recs); i += batchRows {
		batch := recs[i:min(i+batchRows, len(recs))]
		args := make([]any, 0, 2*len(batch))
		for _, r := range batch {
			args = append(args, r.Hash[:], r.ValidUntil)
		}
		q := "INSERT OR REPLACE INTO site(h, u) VALUES " + strings.TrimSuffix(strings.Repeat("(?,?),", len(batch)), ",")
		if err := u.ctx.Err(); err != nil {
			return err
		}
		if _, err := u.tx.ExecContext(u.wctx, q, args...); err != nil {
			return fmt.Errorf("write site list: %w", classify(err))
		}
	}
	l.Entries = int64(len(recs))
	u.site, u.siteSet = &l, true
	return nil
}

// ClearSiteList removes the site list.
func (u *Update) ClearSiteList() error {
	if _, err := u.tx.ExecContext(u.ctx, "DELETE FROM site"); err != nil {
		return fmt.Errorf("clear site list: %w", classify(err))
	}
	u.site, u.siteSet = nil, true
	return nil
}

// siteMeta is the meta value recording the update's site list.
func (u *Update) siteMeta() ([]byte, error) {
	if u.site == nil {
		return []byte{}, nil
	}
	return json.Marshal(u.site)
}
