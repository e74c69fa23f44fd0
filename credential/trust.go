package credential

// TrustStore is the HC1 trust list: the document signer certificates.
type TrustStore interface {
	// Signers returns the DER certificates whose key ID (the first 8 bytes
	// of SHA-256 of the DER) is kid; none when the KID is unknown.
	Signers(kid []byte) ([][]byte, error)
}
