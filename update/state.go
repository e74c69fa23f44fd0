// Package update is the gate's firmware installer: which firmware a gate
// takes (Policy), and installing it with dpkg with a probation and a
// rollback (Installer), recorded so that a power cut at any moment leaves
// the gate on one of the two versions. It owns the calls to dpkg and to
// systemd; verifying what the feed offers is package feed's.
package update

import (
	"checkpoint/internal/atomicfile"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Files in the installer's state directory (DefaultDir).
const (
	DefaultDir  = "/var/lib/checkpoint-update"
	stateFile   = "state.json"   // State: what the daemon reads
	pendingFile = "pending.json" // Pending: an install under way
	// InstallerCopy is the binary that was installed before a pending
	// install: checkpoint-update.service runs it while the install is
	// pending, so a broken release cannot break its own rollback.
	InstallerCopy = "installer"
	packagesDir   = "packages" // the installed version's package, for a rollback
)

// Outcomes of an install.
const (
	Installed  = "installed"   // kept after its probation
	RolledBack = "rolled-back" // the previous package reinstalled
	Refused    = "refused"     // not installed: see Reason
)

// State is the installer's record.
type State struct {
	Failed []Failure `json:"failed,omitempty"` // versions rolled back here: never taken again
	Last   *Result   `json:"last,omitempty"`   // the last install's outcome
	// Interrupted counts installs cut short (a power cut) by version; a
	// version interrupted MaxInterrupted times counts as failed.
	Interrupted map[string]int `json:"interrupted,omitempty"`
}

// MaxInterrupted is how often an install of one version may be cut short
// before the version counts as failed.
const MaxInterrupted = 3

// Failure is a version that did not pass its probation.
type Failure struct {
	Version string    `json:"version"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason"`
}

// Result is what one install did.
type Result struct {
	Version string    `json:"version"` // offered
	From    string    `json:"from"`    // installed before
	Outcome string    `json:"outcome"` // Installed, RolledBack or Refused
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`
}

// Failed reports whether version failed here.
func (s *State) HasFailed(version string) bool {
	return slices.ContainsFunc(s.Failed, func(f Failure) bool { return f.Version == version })
}

// Pending is the journal of an install under way.
type Pending struct {
	Version  string    `json:"version"`          // being installed
	From     string    `json:"from"`             // installed before
	Package  string    `json:"package"`          // the new package file
	Previous string    `json:"previous"`         // the package of From, for the rollback
	Phase    string    `json:"phase"`            // phaseInstall, phaseProbation or phaseRollback
	Reason   string    `json:"reason,omitempty"` // why it is rolled back
	Started  time.Time `json:"started"`
}

const (
	phaseInstall   = "installing"
	phaseProbation = "probation"
	phaseRollback  = "rolling-back"
)

// ReadState reads the record in dir; a missing one is empty.
func ReadState(dir string) (State, error) {
	var s State
	err := readJSON(filepath.Join(dir, stateFile), &s)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, nil
	}
	return s, err
}

// ReadPending reads the journal in dir: nil when no install is under way.
func ReadPending(dir string) (*Pending, error) {
	var p Pending
	err := readJSON(filepath.Join(dir, pendingFile), &p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

func readJSON(name string, v any) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// writeJSON writes v to name atomically and durably (a temporary file,
// fsync, rename, fsync of the directory), readable by the daemon.
func writeJSON(name string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.Write(name, append(b, '\n'), 0o644)
}
