package policy_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"checkpoint"
	"checkpoint/policy"
)

// statusStore is a policy.Store answering status lookups from a map, or
// failing with err.
type statusStore struct {
	revStore
	status map[string]checkpoint.StatusEntry
	err    error
}

func (s *statusStore) Status(_ context.Context, key string) (checkpoint.StatusEntry, bool, error) {
	if s.err != nil {
		return checkpoint.StatusEntry{}, false, s.err
	}
	e, ok := s.status[key]
	return e, ok, nil
}

func TestJudgeCached(t *testing.T) {
	now := time.Date(2021, 10, 1, 9, 0, 0, 0, time.UTC)
	qr := checkpoint.Credential{Format: checkpoint.FormatVN1405, Key: "QID1"}
	cccd := checkpoint.Credential{Format: checkpoint.FormatCCCD, Key: "012345678901"}
	store := &statusStore{status: map[string]checkpoint.StatusEntry{
		"QID1":         {Color: checkpoint.Green, ValidUntil: now.Add(time.Hour)},
		"012345678901": {Color: checkpoint.Green, ValidUntil: now.Add(-time.Hour)},
	}}
	for _, tt := range []struct {
		name    string
		store   policy.Store
		c       checkpoint.Credential
		want    checkpoint.Color
		reasons []string
	}{
		{"cached", store, qr, checkpoint.Green, []string{policy.ReasonStatus}},
		{"cached status expired", store, cccd, checkpoint.Yellow, []string{policy.ReasonExpired}},
		{"not in cache", store, checkpoint.Credential{Format: checkpoint.FormatVN1405, Key: "QID2"}, checkpoint.Yellow, []string{policy.ReasonUnknown}},
		{"no cache at all", nil, qr, checkpoint.Yellow, []string{policy.ReasonNoCache}},
		{"cache fails", &statusStore{err: errors.New("disk I/O error")}, qr, checkpoint.Yellow, []string{policy.ReasonCacheError}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			j := &policy.Judge{Store: tt.store, Rules: policy.DefaultRules(), Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			v := j.Judge(context.Background(), tt.c, now)
			if v.Color != tt.want || !reflect.DeepEqual(v.Reasons, tt.reasons) {
				t.Errorf("verdict %s %q, want %s %q", v.Color, v.Reasons, tt.want, tt.reasons)
			}
			failed := strings.Contains(logs.String(), "status lookup failed") && strings.Contains(logs.String(), "disk I/O error")
			if wantLog := tt.name == "cache fails"; failed != wantLog {
				t.Errorf("store error logged %v, want %v: %q", failed, wantLog, logs.String())
			}
			if strings.Contains(logs.String(), tt.c.Key) {
				t.Errorf("the key reached the log: %q", logs.String())
			}
		})
	}
}
