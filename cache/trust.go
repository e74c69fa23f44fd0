package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"checkpoint"
)

// Signers returns the DER certificates of the HC1 signers with this key ID
// (implements credential.TrustStore).
func (d *DB) Signers(kid []byte) ([][]byte, error) {
	rows, err := d.signers.Query(kid)
	if err != nil {
		return nil, fmt.Errorf("look up signers: %w", classify(err))
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var der []byte
		if err := rows.Scan(&der); err != nil {
			return nil, fmt.Errorf("look up signers: %w", err)
		}
		out = append(out, der)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up signers: %w", classify(err))
	}
	return out, nil
}

// Rules returns the stored rule profile blob, nil when there is none.
func (d *DB) Rules(ctx context.Context) ([]byte, error) {
	b, err := d.metaBytes(ctx, metaRules)
	if len(b) == 0 {
		return nil, err
	}
	return b, err
}

// Revoked reports whether any given revocation hash is listed (implements
// policy.Store). Each names its type (UCI, COUNTRYCODEUCI, SIGNATURE) and
// carries the full hash; the first 16 bytes are compared. Unknown types and
// hashes shorter than 16 bytes are ignored.
func (d *DB) Revoked(ctx context.Context, hashes []checkpoint.RevocationHash) (bool, error) {
	for _, rh := range hashes {
		t, err := ParseHashType(rh.Type)
		if err != nil || len(rh.Hash) < HashSize {
			continue
		}
		var one int
		err = d.revoked.QueryRowContext(ctx, int64(t), rh.Hash[:HashSize]).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("look up revocation: %w", classify(err))
		}
		return true, nil
	}
	return false, nil
}
