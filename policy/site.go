package policy

import (
	"context"
	"time"

	"checkpoint"
)

// SiteList is the gate's site's own list of the people it admits (a
// factory's workers), as the policy sees it. It carries no status: on the
// list, the national verdict stands.
type SiteList interface {
	// Listed reports whether the credential key is on the list, and until
	// when (zero: no end).
	Listed(ctx context.Context, key string) (until time.Time, ok bool, err error)
}

// Reasons of the site list.
const (
	ReasonNotListed = "not on this site's list"
	ReasonListStale = "site list missing or expired"
	ReasonListError = "site list unavailable: check manually"
)

// siteList applies the site's list to the national verdict v: a green or
// yellow code not on the list (or past its entry's end) gets
// Rules.NotListed; without a current list (never synced, its signed role
// expired) the verdict is capped at Rules.Stale as for a stale cache.
func (j *Judge) siteList(ctx context.Context, c checkpoint.Credential, now time.Time, v *checkpoint.Verdict) {
	if v.Color == checkpoint.Red {
		return
	}
	if j.List == nil || j.ListCurrent == nil || !j.ListCurrent(now) {
		v.Color = min(v.Color, j.Rules.Stale)
		v.Reasons = append(v.Reasons, ReasonListStale)
		return
	}
	until, ok, err := j.List.Listed(ctx, c.Key)
	switch {
	case err != nil:
		v.Color = min(v.Color, checkpoint.Yellow)
		v.Reasons = append(v.Reasons, ReasonListError)
	case c.Key == "" || !ok || (!until.IsZero() && !now.Before(until)):
		v.Color = min(v.Color, j.Rules.NotListed)
		v.Reasons = append(v.Reasons, ReasonNotListed)
	}
}
