package credential

import (
	"errors"

	"checkpoint"
)

// HC1Prefix starts every EU DCC payload.
const HC1Prefix = "HC1:"

// parseHC1 parses an HC1 payload.
func (p *Parser) parseHC1(t string) checkpoint.Credential {
	return checkpoint.Credential{Format: checkpoint.FormatHC1, Err: errors.New("hc1: not supported yet")}
}
