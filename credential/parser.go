package credential

import (
	"errors"
	"fmt"
	"strings"

	"checkpoint"
)

// MaxPayload is the longest text Parse accepts, in bytes. A QR code holds at
// most 4,296 alphanumeric characters; real payloads are under 2 KiB.
const MaxPayload = 4096

// Errors for payloads that are not a known format.
var (
	// ErrTooLong: the payload is longer than MaxPayload.
	ErrTooLong = fmt.Errorf("payload longer than %d bytes", MaxPayload)
	// ErrUnknownFormat: the payload is none of the known formats.
	ErrUnknownFormat = errors.New("unknown payload format")
)

// FieldError says which field of a '|'-separated payload is wrong. It never
// holds the field's value.
type FieldError struct {
	Format  checkpoint.Format // FormatVN1405 or FormatCCCD
	Field   int               // 1-based position
	Name    string            // e.g. "birth date"
	Problem string            // e.g. "not YYYY-MM-DD"
}

// Error implements error.
func (e *FieldError) Error() string {
	return fmt.Sprintf("%s field %d (%s): %s", e.Format, e.Field, e.Name, e.Problem)
}

// Parser implements checkpoint.Parser for every known format.
type Parser struct {
	// Trust holds the HC1 signer certificates; nil: every signer is unknown.
	Trust TrustStore
	// Clock is the time the signer certificate's validity is checked at;
	// nil: the system clock.
	Clock checkpoint.Clock
}

var _ checkpoint.Parser = (*Parser)(nil)

// Parse turns decoded text into a credential. It never fails: a payload it
// cannot read gives Err set, and Format FormatUnknown unless the payload
// carried the HC1 prefix (then FormatHC1).
func (p *Parser) Parse(text string) checkpoint.Credential {
	if len(text) > MaxPayload {
		return unknown(ErrTooLong)
	}
	t := strings.TrimFunc(text, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\x00' || r == '\ufeff'
	})
	switch {
	case strings.HasPrefix(t, HC1Prefix):
		return p.parseHC1(t)
	case strings.Contains(t, "|"):
		return parseBar(t)
	case t == "":
		return unknown(fmt.Errorf("%w: empty", ErrUnknownFormat))
	}
	return unknown(ErrUnknownFormat)
}

// unknown is the credential for an unreadable payload.
func unknown(err error) checkpoint.Credential {
	return checkpoint.Credential{Format: checkpoint.FormatUnknown, Err: err}
}

// parseBar parses the '|'-separated formats: CCCD or 1405.
func parseBar(t string) checkpoint.Credential {
	f := strings.Split(t, "|")
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	var (
		c   checkpoint.Credential
		err error
	)
	switch {
	case looksCCCD(f):
		c, err = parseCCCD(f)
	case len(f) >= 5:
		c, err = parse1405(f)
	default:
		err = fmt.Errorf("%w: %d fields separated by '|' (vn1405 has 5 or 6, cccd 7)", ErrUnknownFormat, len(f))
	}
	if err != nil {
		return unknown(err)
	}
	return c
}

// isDigits reports whether s is n ASCII digits (any length when n < 0).
func isDigits(s string, n int) bool {
	if s == "" || (n >= 0 && len(s) != n) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
