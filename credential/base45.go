package credential

import "fmt"

// base45Alphabet is RFC 9285's alphabet.
const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// base45Value maps a byte to its base45 value, or -1.
var base45Value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base45Alphabet); i++ {
		t[base45Alphabet[i]] = int8(i)
	}
	return t
}()

// DecodeBase45 decodes RFC 9285 base45 strictly: only the 45 characters of
// the alphabet, no length of 1 modulo 3, and no group whose value is out of
// range.
func DecodeBase45(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, fmt.Errorf("base45: length %d is 1 modulo 3", len(s))
	}
	out := make([]byte, 0, len(s)/3*2+1)
	for i := 0; i < len(s); i += 3 {
		n := min(3, len(s)-i)
		v := 0
		mul := 1
		for j := 0; j < n; j++ {
			d := base45Value[s[i+j]]
			if d < 0 {
				return nil, fmt.Errorf("base45: byte %#02x at offset %d is not in the alphabet", s[i+j], i+j)
			}
			v += int(d) * mul
			mul *= 45
		}
		if n == 3 {
			if v > 0xFFFF {
				return nil, fmt.Errorf("base45: group at offset %d is out of range", i)
			}
			out = append(out, byte(v>>8), byte(v))
		} else {
			if v > 0xFF {
				return nil, fmt.Errorf("base45: final group at offset %d is out of range", i)
			}
			out = append(out, byte(v))
		}
	}
	return out, nil
}

// EncodeBase45 encodes b in RFC 9285 base45.
func EncodeBase45(b []byte) string {
	out := make([]byte, 0, (len(b)+1)/2*3)
	for i := 0; i+1 < len(b); i += 2 {
		v := int(b[i])<<8 | int(b[i+1])
		out = append(out, base45Alphabet[v%45], base45Alphabet[v/45%45], base45Alphabet[v/2025])
	}
	if len(b)%2 == 1 {
		v := int(b[len(b)-1])
		out = append(out, base45Alphabet[v%45], base45Alphabet[v/45])
	}
	return string(out)
}
