package policy

import (
	"context"
	"time"

	"checkpoint"
)

// Profile is the HC1 rule profile: which vaccinations, recoveries and tests
// give green or yellow.
type Profile struct{}

// DefaultProfile returns GUIDE's default HC1 rules.
func DefaultProfile() Profile { return Profile{} }

// hc1 judges an HC1 certificate.
func (j *Judge) hc1(ctx context.Context, c checkpoint.Credential, now time.Time, v *checkpoint.Verdict) {
	v.Color, v.Reasons = checkpoint.Red, []string{"HC1 not supported yet"}
}
