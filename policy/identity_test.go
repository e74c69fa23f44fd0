package policy_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"checkpoint"
	"checkpoint/policy"
)

func TestCompare(t *testing.T) {
	card := checkpoint.Document{Number: "001089012345", Old: "123456789", Year: 1989, Month: 7, Day: 14}
	tests := []struct {
		name string
		code checkpoint.Document
		want checkpoint.Identity
	}{
		{"masked number and full date agree", checkpoint.Document{Number: "******012345", Year: 1989, Month: 7, Day: 14}, checkpoint.IdentitySame},
		{"day and month masked", checkpoint.Document{Number: "******012345", Year: 1989}, checkpoint.IdentitySame},
		{"old ID number", checkpoint.Document{Number: "******789", Year: 1989, Month: 7, Day: 14}, checkpoint.IdentitySame},
		{"one visible digit differs", checkpoint.Document{Number: "******012346", Year: 1989, Month: 7, Day: 14}, checkpoint.IdentityDifferent},
		{"birth year differs", checkpoint.Document{Number: "******012345", Year: 1990, Month: 7, Day: 14}, checkpoint.IdentityDifferent},
		{"birth day differs", checkpoint.Document{Number: "******012345", Year: 1989, Month: 7, Day: 15}, checkpoint.IdentityDifferent},
		{"passport number", checkpoint.Document{Number: "C1234567", Year: 1989, Month: 7, Day: 14}, checkpoint.IdentityDifferent},
		{"nothing visible", checkpoint.Document{Number: "************"}, checkpoint.IdentityNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := policy.Compare(card, tt.code); got != tt.want {
				t.Errorf("Compare = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestPairing: a CCCD and a 1405 scan within the window, in either order,
// are compared once; out of the window, or two of one kind, are not.
func TestPairing(t *testing.T) {
	t0 := time.Date(2021, 9, 1, 8, 0, 0, 0, time.UTC)
	cccd := checkpoint.Credential{Format: checkpoint.FormatCCCD, Key: "001089012345",
		Document: checkpoint.Document{Number: "001089012345", Year: 1989, Month: 7, Day: 14}}
	same := checkpoint.Credential{Format: checkpoint.FormatVN1405, Key: "Q1",
		Document: checkpoint.Document{Number: "******012345", Year: 1989, Month: 7, Day: 14}}
	other := checkpoint.Credential{Format: checkpoint.FormatVN1405, Key: "Q2",
		Document: checkpoint.Document{Number: "******054321", Year: 1975, Month: 1, Day: 2}}
	type scan struct {
		c  checkpoint.Credential
		at time.Duration
	}
	tests := []struct {
		name  string
		scans []scan
		want  checkpoint.Identity // of the last scan
		color checkpoint.Color
	}{
		{"card then code", []scan{{cccd, 0}, {same, 5 * time.Second}}, checkpoint.IdentitySame, checkpoint.Yellow},
		{"code then card", []scan{{same, 0}, {cccd, 19 * time.Second}}, checkpoint.IdentitySame, checkpoint.Yellow},
		{"another person's code", []scan{{cccd, 0}, {other, time.Second}}, checkpoint.IdentityDifferent, checkpoint.Red},
		{"past the window", []scan{{cccd, 0}, {other, 21 * time.Second}}, checkpoint.IdentityNone, checkpoint.Yellow},
		{"two codes", []scan{{other, 0}, {same, time.Second}}, checkpoint.IdentityNone, checkpoint.Yellow},
		{"a pair is compared once", []scan{{cccd, 0}, {same, time.Second}, {other, 2 * time.Second}}, checkpoint.IdentityNone, checkpoint.Yellow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &policy.Judge{Rules: policy.DefaultRules(), Pairs: &policy.Pairing{}}
			var v checkpoint.Verdict
			for _, s := range tt.scans {
				v = j.Judge(t.Context(), s.c, t0.Add(s.at))
			}
			if v.Identity != tt.want || v.Color != tt.color {
				t.Errorf("identity %v colour %v, want %v %v (reasons %q)", v.Identity, v.Color, tt.want, tt.color, v.Reasons)
			}
			wantReason := map[checkpoint.Identity]string{checkpoint.IdentitySame: policy.ReasonSamePerson, checkpoint.IdentityDifferent: policy.ReasonDifferentPerson}[tt.want]
			if wantReason != "" && !slices.Contains(v.Reasons, wantReason) {
				t.Errorf("reasons %q lack %q", v.Reasons, wantReason)
			}
		})
	}
}

// TestTypedCode: a typed code is looked up under its own key and always
// says it was entered by hand.
func TestTypedCode(t *testing.T) {
	st := &revStore{statuses: map[string]checkpoint.StatusEntry{checkpoint.CodeKey("48213390"): {Color: checkpoint.Green}}}
	j := &policy.Judge{Store: st, Rules: policy.DefaultRules()}
	now := time.Date(2021, 9, 1, 8, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		c       checkpoint.Credential
		color   checkpoint.Color
		reasons []string
	}{
		{checkpoint.Credential{Format: checkpoint.FormatCode, Key: checkpoint.CodeKey("48213390")}, checkpoint.Green, []string{policy.ReasonTyped, policy.ReasonStatus}},
		{checkpoint.Credential{Format: checkpoint.FormatCode, Key: checkpoint.CodeKey("1111")}, checkpoint.Yellow, []string{policy.ReasonTyped, policy.ReasonUnknown}},
		{checkpoint.Credential{Format: checkpoint.FormatCode, Err: errors.New("not digits")}, checkpoint.Red, []string{policy.ReasonTyped, policy.ReasonInvalid}},
	} {
		v := j.Judge(t.Context(), tt.c, now)
		if v.Color != tt.color || !slices.Equal(v.Reasons, tt.reasons) {
			t.Errorf("%q: %v %q, want %v %q", tt.c.Key, v.Color, v.Reasons, tt.color, tt.reasons)
		}
	}
}
