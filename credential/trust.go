package credential

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync"
)

// TrustStore is the HC1 trust list: the document signer certificates.
type TrustStore interface {
	// Signers returns the DER certificates whose key ID (the first 8 bytes
	// of SHA-256 of the DER) is kid; none when the KID is unknown.
	Signers(kid []byte) ([][]byte, error)
}

// KID returns a certificate's DCC key ID: the first 8 bytes of SHA-256 of
// its DER.
func KID(der []byte) []byte {
	s := sha256.Sum256(der)
	return s[:8]
}

// CertPool is an in-memory TrustStore. The zero value is empty and ready;
// it is safe for concurrent use.
type CertPool struct {
	mu    sync.RWMutex
	byKID map[[8]byte][][]byte
	n     int
}

var _ TrustStore = (*CertPool)(nil)

// AddDER adds one DER certificate; it must parse as X.509.
func (p *CertPool) AddDER(der []byte) error {
	if _, err := x509.ParseCertificate(der); err != nil {
		return fmt.Errorf("parse certificate: %w", err)
	}
	var k [8]byte
	copy(k[:], KID(der))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byKID == nil {
		p.byKID = make(map[[8]byte][][]byte)
	}
	for _, d := range p.byKID[k] {
		if bytes.Equal(d, der) {
			return nil
		}
	}
	p.byKID[k] = append(p.byKID[k], bytes.Clone(der))
	p.n++
	return nil
}

// AddPEM adds every CERTIFICATE block of a PEM file and returns how many
// there were; a file with none is an error.
func (p *CertPool) AddPEM(b []byte) (int, error) {
	n := 0
	for i := 1; ; i++ {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		if err := p.AddDER(blk.Bytes); err != nil {
			return n, fmt.Errorf("PEM block %d: %w", i, err)
		}
		n++
	}
	if n == 0 {
		return 0, errors.New("no CERTIFICATE block")
	}
	return n, nil
}

// Add adds certificates from data in any of the forms LoadTrustFile reads.
func (p *CertPool) Add(data []byte) (int, error) {
	t := bytes.TrimSpace(data)
	switch {
	case bytes.Contains(t, []byte("-----BEGIN ")):
		return p.AddPEM(t)
	case len(t) > 0 && t[0] == 0x30: // an ASN.1 SEQUENCE: DER
		return 1, p.AddDER(data)
	}
	der, err := base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(t), nil)))
	if err != nil {
		return 0, errors.New("neither PEM, DER nor base64 DER")
	}
	return 1, p.AddDER(der)
}

// Signers implements TrustStore.
func (p *CertPool) Signers(kid []byte) ([][]byte, error) {
	if len(kid) != 8 {
		return nil, nil
	}
	var k [8]byte
	copy(k[:], kid)
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.byKID[k], nil
}

// Len returns the number of certificates.
func (p *CertPool) Len() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.n
}

// LoadTrustFile reads document signer certificates from a file: PEM (any
// number of CERTIFICATE blocks), DER, or base64 DER as in DCC test data.
func LoadTrustFile(path string) (*CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read trust file: %w", err)
	}
	p := &CertPool{}
	if _, err := p.Add(b); err != nil {
		return nil, fmt.Errorf("trust file %s: %w", path, err)
	}
	return p, nil
}

// TrustStores is the union of several trust stores (the feed's list and a
// local file, say), asked in order. A failing store is skipped when another
// has signers for the KID; when none has any, the failures are returned.
type TrustStores []TrustStore

var _ TrustStore = TrustStores(nil)

// Signers implements TrustStore.
func (s TrustStores) Signers(kid []byte) ([][]byte, error) {
	var out [][]byte
	var errs []error
	for _, t := range s {
		ders, err := t.Signers(kid)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, ders...)
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
