package update

import (
	"errors"
	"fmt"
	"time"

	"checkpoint/feed/format"
	"checkpoint/internal/debversion"
)

// ErrSame: the version offered is the one installed.
var ErrSame = errors.New("already installed")

// Decide returns why a gate named gate, with version installed and the
// installer's record st, does not take fw, or nil to take it: outside the
// rollout, installed already, lower than installed without the feed's
// rollback mark, failed here before, or refused by the installer within
// the last hour (now).
func Decide(fw format.Firmware, gate, installed string, st State, now time.Time) error {
	switch {
	case !format.Admitted(gate, fw.Rollout):
		return fmt.Errorf("gate not in the %g%% rollout of %s", fw.Rollout, fw.Version)
	case st.HasFailed(fw.Version):
		return fmt.Errorf("%s failed its probation here before", fw.Version)
	case installed != "" && fw.Version == installed:
		return ErrSame
	case installed != "" && debversion.Compare(fw.Version, installed) < 0 && !fw.Rollback:
		return fmt.Errorf("%s is lower than %s, installed, and the feed does not mark it as a rollback", fw.Version, installed)
	case st.Last != nil && st.Last.Outcome == Refused && st.Last.Version == fw.Version && now.Sub(st.Last.At) < time.Hour:
		return fmt.Errorf("%s refused by the installer at %s: %s", fw.Version, st.Last.At.Format(time.RFC3339), st.Last.Reason)
	}
	return nil
}
