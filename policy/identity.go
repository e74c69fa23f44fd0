package policy

import (
	"strings"
	"sync"
	"time"

	"checkpoint"
)

// DefaultPairWindow is how long a CCCD or 1405 scan waits for the other of
// its pair (policy.pair_window).
const DefaultPairWindow = 20 * time.Second

// Reasons of the identity check.
const (
	ReasonSamePerson      = "same person: ID number and birth date match"
	ReasonDifferentPerson = "different person: ID number or birth date differ"
	ReasonNotComparable   = "identity not comparable: check manually"
)

// Pairing is the identity check: a CCCD scan and a 1405 scan within Window
// of each other, in either order, are compared. What it holds of the first
// scan lives in memory only, until the pair is compared or the window ends;
// nothing of it is logged or stored. Safe for concurrent use.
type Pairing struct {
	Window time.Duration // DefaultPairWindow when zero

	mu     sync.Mutex
	format checkpoint.Format // of the scan waiting for its pair; "" when none
	doc    checkpoint.Document
	at     time.Time
}

// judge compares c with the scan waiting for it, if any, and marks the
// verdict: same person, or different person (red), or not comparable (at
// most yellow). A CCCD or 1405 scan with nothing to pair waits itself.
func (p *Pairing) judge(c checkpoint.Credential, now time.Time, v *checkpoint.Verdict) {
	if c.Err != nil || (c.Format != checkpoint.FormatCCCD && c.Format != checkpoint.FormatVN1405) {
		return
	}
	window := p.Window
	if window <= 0 {
		window = DefaultPairWindow
	}
	p.mu.Lock()
	waiting, doc, at := p.format, p.doc, p.at
	if waiting == "" || waiting == c.Format || now.Sub(at) > window || now.Before(at) {
		p.format, p.doc, p.at = c.Format, c.Document, now
		p.mu.Unlock()
		return
	}
	p.format, p.doc, p.at = "", checkpoint.Document{}, time.Time{}
	p.mu.Unlock()
	card, code := doc, c.Document
	if c.Format == checkpoint.FormatCCCD {
		card, code = c.Document, doc
	}
	switch Compare(card, code) {
	case checkpoint.IdentitySame:
		v.Identity = checkpoint.IdentitySame
		v.Reasons = append(v.Reasons, ReasonSamePerson)
	case checkpoint.IdentityDifferent:
		v.Identity = checkpoint.IdentityDifferent
		v.Color = checkpoint.Red
		v.Reasons = append(v.Reasons, ReasonDifferentPerson)
	default:
		v.Color = min(v.Color, checkpoint.Yellow)
		v.Reasons = append(v.Reasons, ReasonNotComparable)
	}
}

// Compare compares a CCCD card's document with a 1405 code's: the same
// person when the code's visible ID characters agree with the card's number
// (or its old number, whichever has the code's length) and every birth-date
// part known on both sides agrees. Masked characters and unknown parts are
// skipped; when nothing at all could be compared the result is
// IdentityNone.
func Compare(card, code checkpoint.Document) checkpoint.Identity {
	compared := 0
	numberOK, seen := false, false
	for _, n := range []string{card.Number, card.Old} {
		if n == "" || len(n) != len(code.Number) {
			continue
		}
		seen = true
		ok, visible := sameVisible(n, code.Number)
		if ok {
			numberOK, compared = true, compared+visible
			break
		}
	}
	if !seen || !numberOK {
		return checkpoint.IdentityDifferent
	}
	for _, pair := range [][2]int{{card.Year, code.Year}, {card.Month, code.Month}, {card.Day, code.Day}} {
		if pair[0] == 0 || pair[1] == 0 {
			continue
		}
		if pair[0] != pair[1] {
			return checkpoint.IdentityDifferent
		}
		compared++
	}
	if compared == 0 {
		return checkpoint.IdentityNone
	}
	return checkpoint.IdentitySame
}

// sameVisible compares full with masked (of equal length) where masked is
// not '*', and says how many characters it compared.
func sameVisible(full, masked string) (bool, int) {
	n := 0
	for i := 0; i < len(masked); i++ {
		if masked[i] == '*' {
			continue
		}
		if !strings.EqualFold(full[i:i+1], masked[i:i+1]) {
			return false, n
		}
		n++
	}
	return true, n
}
