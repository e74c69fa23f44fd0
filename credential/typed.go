package credential

import (
	"errors"
	"strings"

	"checkpoint"
)

// Limits of a code typed by hand (an SMS code or a printed card's number).
const (
	MinTypedCode = 4
	MaxTypedCode = 16
)

// ErrTypedCode says what a typed code must look like.
var ErrTypedCode = errors.New("a typed code is 4 to 16 digits")

// ParseTyped implements checkpoint.TypedParser: a code typed by hand is its
// digits (spaces, dots and dashes typed between them are dropped), keyed by
// checkpoint.CodeKey. Anything else gives Err set.
func (p *Parser) ParseTyped(text string) checkpoint.Credential {
	code, err := TypedCode(text)
	if err != nil {
		return checkpoint.Credential{Format: checkpoint.FormatCode, Err: err}
	}
	return checkpoint.Credential{Format: checkpoint.FormatCode, Key: checkpoint.CodeKey(code), Signature: checkpoint.Unsigned}
}

// TypedCode returns the digits of a typed code, or ErrTypedCode.
func TypedCode(text string) (string, error) {
	if len(text) > 4*MaxTypedCode {
		return "", ErrTypedCode
	}
	code := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.':
			return -1
		}
		return r
	}, strings.TrimSpace(text))
	if len(code) < MinTypedCode || len(code) > MaxTypedCode || !isDigits(code, len(code)) {
		return "", ErrTypedCode
	}
	return code, nil
}

var _ checkpoint.TypedParser = (*Parser)(nil)
