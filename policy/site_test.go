package policy_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"checkpoint"
	"checkpoint/policy"
)

// statuses is a status cache in memory.
type statuses map[string]checkpoint.Color

func (s statuses) Status(_ context.Context, key string) (checkpoint.StatusEntry, bool, error) {
	c, ok := s[key]
	return checkpoint.StatusEntry{Color: c}, ok, nil
}
func (statuses) Revoked(context.Context, []checkpoint.RevocationHash) (bool, error) {
	return false, nil
}
func (statuses) KeyHash(string) string { return "" }

// list is a site list in memory: key to end (zero: none).
type list map[string]time.Time

func (l list) Listed(_ context.Context, key string) (time.Time, bool, error) {
	if key == "BROKEN" {
		return time.Time{}, false, errors.New("disk error")
	}
	u, ok := l[key]
	return u, ok, nil
}

func TestJudgeSiteList(t *testing.T) {
	now := time.Date(2021, 10, 1, 8, 0, 0, 0, time.UTC)
	st := statuses{"GREEN": checkpoint.Green, "LISTED": checkpoint.Green, "YELLOWL": checkpoint.Yellow, "YELLOW": checkpoint.Yellow,
		"REDL": checkpoint.Red, "ENDED": checkpoint.Green, "LATER": checkpoint.Green, "BROKEN": checkpoint.Green}
	l := list{"LISTED": {}, "YELLOWL": {}, "REDL": {}, "UNKNOWNL": {}, "ENDED": now, "LATER": now.Add(time.Second)}
	current := func(time.Time) bool { return true }
	for _, tt := range []struct {
		name      string
		key       string
		format    checkpoint.Format
		require   bool
		notListed checkpoint.Color
		current   func(time.Time) bool
		want      checkpoint.Color
		reason    string
	}{
		{"listed green stays green", "LISTED", checkpoint.FormatVN1405, true, checkpoint.Red, current, checkpoint.Green, policy.ReasonStatus},
		{"listed yellow stays yellow", "YELLOWL", checkpoint.FormatVN1405, true, checkpoint.Red, current, checkpoint.Yellow, policy.ReasonStatus},
		{"listed red stays red", "REDL", checkpoint.FormatVN1405, true, checkpoint.Red, current, checkpoint.Red, policy.ReasonStatus},
		{"listed, unknown nationally: the national verdict", "UNKNOWNL", checkpoint.FormatVN1405, true, checkpoint.Red, current, checkpoint.Yellow, policy.ReasonUnknown},
		{"unlisted green", "GREEN", checkpoint.FormatVN1405, true, checkpoint.Red, current, checkpoint.Red, policy.ReasonNotListed},
		{"unlisted yellow", "YELLOW", checkpoint.FormatVN1405, true, checkpoint.Red, current, checkpoint.Red, policy.ReasonNotListed},
		{"unlisted CCCD", "079201001234", checkpoint.FormatCCCD, true, checkpoint.Red, current, checkpoint.Red, policy.ReasonNotListed},
		{"not_listed yellow", "GREEN", checkpoint.FormatVN1405, true, checkpoint.Yellow, current, checkpoint.Yellow, policy.ReasonNotListed},
		{"entry ended", "ENDED", checkpoint.FormatVN1405, true, checkpoint.Red, current, checkpoint.Red, policy.ReasonNotListed},
		{"entry ends later", "LATER", checkpoint.FormatVN1405, true, checkpoint.Red, current, checkpoint.Green, policy.ReasonStatus},
		{"no current list: stale", "LISTED", checkpoint.FormatVN1405, true, checkpoint.Red, func(time.Time) bool { return false }, checkpoint.Yellow, policy.ReasonListStale},
		{"no list function: stale", "LISTED", checkpoint.FormatVN1405, true, checkpoint.Red, nil, checkpoint.Yellow, policy.ReasonListStale},
		{"list unreadable", "BROKEN", checkpoint.FormatVN1405, true, checkpoint.Red, current, checkpoint.Yellow, policy.ReasonListError},
		{"ignored", "GREEN", checkpoint.FormatVN1405, false, checkpoint.Red, current, checkpoint.Green, policy.ReasonStatus},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := policy.DefaultRules()
			r.RequireList, r.NotListed = tt.require, tt.notListed
			j := &policy.Judge{Store: st, Rules: r, List: l, ListCurrent: tt.current}
			v := j.Judge(context.Background(), checkpoint.Credential{Format: tt.format, Key: tt.key}, now)
			if v.Color != tt.want || !slices.Contains(v.Reasons, tt.reason) {
				t.Errorf("verdict %v %q, want %v with %q", v.Color, v.Reasons, tt.want, tt.reason)
			}
		})
	}
}
