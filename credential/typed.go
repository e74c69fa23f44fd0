package credential

import "checkpoint"

var _ checkpoint.TypedParser = (*Parser)(nil)

// ParseTyped implements checkpoint.TypedParser: a code typed by hand is its
// digits (checkpoint.ParseCode), keyed by checkpoint.CodeKey. Anything else
// gives Err set.
func (p *Parser) ParseTyped(text string) checkpoint.Credential {
	code, err := checkpoint.ParseCode(text)
	if err != nil {
		return checkpoint.Credential{Format: checkpoint.FormatCode, Err: err}
	}
	return checkpoint.Credential{Format: checkpoint.FormatCode, Key: checkpoint.CodeKey(code), Signature: checkpoint.Unsigned}
}
