// Package policy decides a verdict from a credential, the status cache, the
// site's rules and the clock.
package policy

import (
	"context"
	"log/slog"
	"time"

	"checkpoint"
)

// Store is the status cache as the policy sees it.
type Store interface {
	// Status returns the cached status for a credential key (hashed inside).
	Status(ctx context.Context, key string) (checkpoint.StatusEntry, bool, error)
	// Revoked reports whether any of the given revocation hashes (by EU DCC
	// hash type: UCI, COUNTRYCODEUCI, SIGNATURE) is on the revocation list.
	Revoked(ctx context.Context, hashes []checkpoint.RevocationHash) (bool, error)
	// KeyHash returns the keyed hash of key in hex, for the event log.
	KeyHash(key string) string
}

// Rules are the site's verdict rules.
type Rules struct {
	Unknown      checkpoint.Color // 1405 QID not in the cache, or its status expired
	CCCD         checkpoint.Color // CCCD without a cached status
	Stale        checkpoint.Color // the greenest verdict while the cache is stale
	ShowFullName bool             // show the full name on the operator screen
	HC1          Profile          // HC1 certificate rules
	RequireList  bool             // admit only people on the site's list (site.go)
	NotListed    checkpoint.Color // the greenest verdict for a code not on it (zero: red)
}

// DefaultRules are GUIDE's defaults.
func DefaultRules() Rules {
	return Rules{
		Unknown: checkpoint.Yellow,
		CCCD:    checkpoint.Yellow,
		Stale:   checkpoint.Yellow,
		HC1:     DefaultProfile(),
	}
}

// Reasons used in verdicts. They are stable, short, and carry no personal data.
const (
	ReasonInvalid      = "invalid code"
	ReasonStatus       = "status from cache"
	ReasonUnknown      = "not in cache: check manually"
	ReasonExpired      = "cached status expired: check manually"
	ReasonIdentityOnly = "identity only: check manually"
	ReasonStale        = "status cache is stale"
	ReasonCacheError   = "status cache unavailable: check manually"
	ReasonNoCache      = "no status cache: check manually"
	ReasonTyped        = "entered by hand"
)

// Judge implements checkpoint.Judge.
type Judge struct {
	Store Store // nil: no cache (scan without a config)
	Rules Rules
	// Stale reports whether the cache is stale at now; nil means never.
	Stale func(now time.Time) bool
	// Pairs, when set, compares each CCCD with a 1405 code scanned within
	// its window (policy.identity_check); nil: no identity check.
	Pairs *Pairing
	// List is the site's list and ListCurrent whether it is held and
	// current at now, for Rules.RequireList (site.go).
	List        SiteList
	ListCurrent func(now time.Time) bool
	// Logger hears of store errors, which the verdict only names as a
	// reason (nil: discard). Nothing personal is logged.
	Logger *slog.Logger
}

// storeError logs a failed store call; the verdict carries its reason.
func (j *Judge) storeError(what string, err error) {
	if j.Logger != nil {
		j.Logger.Warn("policy: "+what+" failed", "err", err)
	}
}

var _ checkpoint.Judge = (*Judge)(nil)

// Judge decides the verdict for c at now.
func (j *Judge) Judge(ctx context.Context, c checkpoint.Credential, now time.Time) checkpoint.Verdict {
	v := checkpoint.Verdict{
		Format:    c.Format,
		Holder:    c.Holder,
		Signature: c.Signature,
		At:        now,
	}
	if !j.Rules.ShowFullName {
		v.Holder.FullName = ""
	}
	if c.Key != "" && j.Store != nil {
		v.KeyHash = j.Store.KeyHash(c.Key)
	}
	switch {
	case c.Format == checkpoint.FormatCode:
		j.typed(ctx, c, now, &v)
	case c.Err != nil || c.Format == checkpoint.FormatUnknown:
		v.Color, v.Reasons = checkpoint.Red, []string{ReasonInvalid}
		return v
	case c.Format == checkpoint.FormatVN1405:
		j.cached(ctx, c, now, j.Rules.Unknown, ReasonUnknown, &v)
	case c.Format == checkpoint.FormatCCCD:
		j.cached(ctx, c, now, j.Rules.CCCD, ReasonIdentityOnly, &v)
	case c.Format == checkpoint.FormatHC1:
		j.hc1(ctx, c, now, &v)
	default:
		v.Color, v.Reasons = checkpoint.Red, []string{ReasonInvalid}
		return v
	}
	if j.Rules.RequireList {
		j.siteList(ctx, c, now, &v)
	}
	if j.Stale != nil && v.Color > j.Rules.Stale && j.Stale(now) {
		v.Color = j.Rules.Stale
		v.Reasons = append(v.Reasons, ReasonStale)
	}
	if j.Pairs != nil {
		j.Pairs.judge(c, now, &v)
	}
	return v
}

// typed decides a code typed by hand: its status from the cache, like a
// 1405 QID's, and always the reason that it was typed.
func (j *Judge) typed(ctx context.Context, c checkpoint.Credential, now time.Time, v *checkpoint.Verdict) {
	if c.Err != nil {
		v.Color, v.Reasons = checkpoint.Red, []string{ReasonInvalid}
	} else {
		j.cached(ctx, c, now, j.Rules.Unknown, ReasonUnknown, v)
	}
	v.Reasons = append([]string{ReasonTyped}, v.Reasons...)
}

// cached decides from the status cache; otherwise is the verdict when the
// cache has no valid entry.
func (j *Judge) cached(ctx context.Context, c checkpoint.Credential, now time.Time, otherwise checkpoint.Color, why string, v *checkpoint.Verdict) {
	if j.Store == nil {
		v.Color, v.Reasons = min(otherwise, checkpoint.Yellow), []string{ReasonNoCache}
		return
	}
	e, ok, err := j.Store.Status(ctx, c.Key)
	switch {
	case err != nil:
		j.storeError("status lookup", err)
		v.Color, v.Reasons = min(otherwise, checkpoint.Yellow), []string{ReasonCacheError}
	case !ok:
		v.Color, v.Reasons = otherwise, []string{why}
	case e.Color != checkpoint.Red && !e.ValidUntil.IsZero() && !now.Before(e.ValidUntil):
		v.Color, v.Reasons = min(otherwise, e.Color), []string{ReasonExpired}
	default:
		v.Color, v.Reasons = e.Color, []string{ReasonStatus}
	}
}
