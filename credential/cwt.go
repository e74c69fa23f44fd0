package credential

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// CBOR tags around a DCC.
const (
	tagCWT   = 61
	tagSign1 = 18
)

// payloadMode decodes CWT and DCC payloads: bounded, no duplicate keys.
var payloadMode = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IntDec:           cbor.IntDecConvertSigned,
		MaxNestedLevels:  16,
		MaxArrayElements: 4096,
		MaxMapPairs:      4096,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// unmarshalSign1 decodes a COSE_Sign1 message: tag 18, inside tag 61 or not,
// or untagged.
func unmarshalSign1(b []byte) (*cose.Sign1Message, error) {
	if len(b) == 0 {
		return nil, errors.New("empty")
	}
	if b[0] == 0xd8 && len(b) > 1 && b[1] == tagCWT {
		var t cbor.RawTag
		if err := payloadMode.Unmarshal(b, &t); err != nil {
			return nil, fmt.Errorf("CWT tag: %w", err)
		}
		b = t.Content
	}
	var msg cose.Sign1Message
	switch {
	case len(b) > 0 && b[0] == 0xc0|tagSign1:
		if err := msg.UnmarshalCBOR(b); err != nil {
			return nil, err
		}
	case len(b) > 0 && b[0] == 0x84: // an array of four: untagged
		var u cose.UntaggedSign1Message
		if err := u.UnmarshalCBOR(b); err != nil {
			return nil, err
		}
		msg = cose.Sign1Message(u)
	default:
		return nil, errors.New("not a COSE_Sign1 message")
	}
	if msg.Payload == nil {
		return nil, errors.New("no payload")
	}
	return &msg, nil
}

// keyID returns the KID of the protected header, else of the unprotected one.
func keyID(msg *cose.Sign1Message) (kid []byte, protected bool, err error) {
	if v, ok := msg.Headers.Protected[cose.HeaderLabelKeyID]; ok {
		b, ok := v.([]byte)
		if !ok {
			return nil, false, errors.New("protected KID is not a byte string")
		}
		return b, true, nil
	}
	if v, ok := msg.Headers.Unprotected[cose.HeaderLabelKeyID]; ok {
		b, ok := v.([]byte)
		if !ok {
			return nil, false, errors.New("unprotected KID is not a byte string")
		}
		return b, false, nil
	}
	return nil, false, nil
}

// algorithm returns the signature algorithm of the protected header, else
// of the unprotected one. Only ES256 and PS256 (and their larger siblings)
// are accepted.
func algorithm(msg *cose.Sign1Message) (cose.Algorithm, bool, error) {
	alg, err := msg.Headers.Protected.Algorithm()
	protected := true
	if errors.Is(err, cose.ErrAlgorithmNotFound) {
		protected = false
		v, ok := msg.Headers.Unprotected[cose.HeaderLabelAlgorithm]
		if !ok {
			return 0, false, errors.New("no algorithm header")
		}
		n, ok := v.(int64)
		if !ok {
			return 0, false, errors.New("algorithm header is not an integer")
		}
		alg, err = cose.Algorithm(n), nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("algorithm header: %w", err)
	}
	switch alg {
	case cose.AlgorithmES256, cose.AlgorithmES384, cose.AlgorithmES512,
		cose.AlgorithmPS256, cose.AlgorithmPS384, cose.AlgorithmPS512:
		return alg, protected, nil
	}
	return 0, false, fmt.Errorf("signature algorithm %d is not supported", int64(alg))
}

// sigStructure encodes the COSE Sig_structure for a COSE_Sign1 message with
// no external data: what the signature covers.
func sigStructure(msg *cose.Sign1Message) ([]byte, error) {
	// RawProtected is the header's bstr as encoded; re-encoding its content
	// gives the deterministic form go-cose signs and verifies.
	protected := []byte{}
	if len(msg.Headers.RawProtected) > 0 {
		if err := payloadMode.Unmarshal(msg.Headers.RawProtected, &protected); err != nil {
			return nil, fmt.Errorf("protected header: %w", err)
		}
	}
	return cbor.Marshal([]any{"Signature1", protected, []byte{}, msg.Payload})
}

// CWT claim keys.
const (
	claimIss   = 1
	claimExp   = 4
	claimIat   = 6
	claimHCert = -260
	hcertDCC   = 1
)

// claims are the CWT claims a DCC uses.
type claims struct {
	iss      string
	iat, exp time.Time
	hcert    cbor.RawMessage // the DCC (hcert claim, key 1)
}

// decodeCWT decodes the CWT claims map.
func decodeCWT(payload []byte) (claims, error) {
	var c claims
	var m map[any]cbor.RawMessage
	if err := payloadMode.Unmarshal(payload, &m); err != nil {
		return c, fmt.Errorf("claims: %w", err)
	}
	get := func(k int64) (cbor.RawMessage, bool) { v, ok := m[k]; return v, ok }
	if v, ok := get(claimIss); ok {
		if err := payloadMode.Unmarshal(v, &c.iss); err != nil {
			return c, fmt.Errorf("iss: %w", err)
		}
	}
	var err error
	if v, ok := get(claimIat); ok {
		if c.iat, err = cwtTime(v); err != nil {
			return c, fmt.Errorf("iat: %w", err)
		}
	}
	if v, ok := get(claimExp); ok {
		if c.exp, err = cwtTime(v); err != nil {
			return c, fmt.Errorf("exp: %w", err)
		}
	}
	v, ok := get(claimHCert)
	if !ok {
		return c, errors.New("no hcert claim (-260)")
	}
	var hc map[any]cbor.RawMessage
	if err := payloadMode.Unmarshal(v, &hc); err != nil {
		return c, fmt.Errorf("hcert: %w", err)
	}
	if c.hcert, ok = hc[int64(hcertDCC)]; !ok {
		return c, errors.New("no DCC in hcert (key 1)")
	}
	return c, nil
}

// cwtTime decodes a NumericDate: an integer or, as some issuers write it, a
// float.
func cwtTime(raw cbor.RawMessage) (time.Time, error) {
	var v any
	if err := payloadMode.Unmarshal(raw, &v); err != nil {
		return time.Time{}, err
	}
	switch n := v.(type) {
	case int64:
		return time.Unix(n, 0).UTC(), nil
	case uint64:
		if n > math.MaxInt64 {
			return time.Time{}, errors.New("out of range")
		}
		return time.Unix(int64(n), 0).UTC(), nil
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) || n < -1e15 || n > 1e15 {
			return time.Time{}, errors.New("out of range")
		}
		sec, frac := math.Modf(n)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("not a number (%T)", v)
}
