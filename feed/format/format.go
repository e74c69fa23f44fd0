// Package format is what the authority's publisher (package publish) and the
// gates (package feed) agree on: the manifest, the status chunks and the
// revocation, trust-list and rule targets, with their size caps. It knows
// nothing of TUF: every byte it reads was verified first.
package format

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"checkpoint"
	"checkpoint/cache"
)

// Status chunks: a gzip stream holding
//
//	magic "CPST" | kind 'S' (snapshot), 'D' (delta) or 'L' (a site's list)
//	        | format 1 | count uvarint
//	keys:   count × (uvarint gap of the first 8 key bytes, big-endian, from the
//	        previous key's; then the last 8 key bytes)
//	ops:    count bytes: 0 red, 1 yellow, 2 green, 0xFF delete (deltas only);
//	        absent from a site's list, which carries no status
//	until:  count × zigzag varint of valid_until (unix seconds, 0 none) minus
//	        the previous row's
//
// Keys are keyed hashes in strictly increasing order. Columns compress well
// (statuses and dates repeat) and gap-coding the sorted keys saves about two
// bytes a key over raw hashes.

const (
	chunkMagic   = "CPST"
	chunkFormat  = 1
	KindSnapshot = 'S'
	KindDelta    = 'D'
	KindList     = 'L'
	opDelete     = 0xFF
)

// MaxChunkRecords caps the records of one chunk a device accepts.
const MaxChunkRecords = 4 << 20

// EncodeChunk writes recs (sorted by hash, unique) as one chunk.
func EncodeChunk(w io.Writer, kind byte, recs []cache.Record, level int) error {
	zw, err := gzip.NewWriterLevel(w, level)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(zw, 256<<10)
	var hdr [16]byte
	copy(hdr[:], chunkMagic)
	hdr[4], hdr[5] = kind, chunkFormat
	n := 6 + binary.PutUvarint(hdr[6:], uint64(len(recs)))
	bw.Write(hdr[:n])
	var buf [binary.MaxVarintLen64 + 8]byte
	var prev uint64
	for i := range recs {
		hi := binary.BigEndian.Uint64(recs[i].Hash[:8])
		k := binary.PutUvarint(buf[:], hi-prev)
		copy(buf[k:], recs[i].Hash[8:])
		bw.Write(buf[:k+8])
		prev = hi
	}
	for i := range recs {
		op := byte(recs[i].Color)
		if recs[i].Delete {
			op = opDelete
		}
		if kind != KindList {
			bw.WriteByte(op)
		}
	}
	var prevU int64
	for i := range recs {
		k := binary.PutVarint(buf[:], recs[i].ValidUntil-prevU)
		bw.Write(buf[:k])
		prevU = recs[i].ValidUntil
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return zw.Close()
}

// DecodeChunk reads one chunk of the given kind, checking every field; keys
// must be in strictly increasing order. It reuses recs' storage.
func DecodeChunk(r io.Reader, kind byte, recs []cache.Record, max uint64) ([]cache.Record, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("status chunk: %w", err)
	}
	zr.Multistream(false)
	br := bufio.NewReaderSize(zr, 256<<10)
	var hdr [6]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, fmt.Errorf("status chunk header: %w", err)
	}
	if string(hdr[:4]) != chunkMagic || hdr[5] != chunkFormat {
		return nil, errors.New("status chunk: bad magic or format")
	}
	if hdr[4] != kind {
		return nil, fmt.Errorf("status chunk: kind %q, want %q", hdr[4], kind)
	}
	count, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, fmt.Errorf("status chunk count: %w", err)
	}
	if count > max {
		return nil, fmt.Errorf("status chunk: %d records, at most %d allowed", count, max)
	}
	recs = recs[:0]
	if uint64(cap(recs)) < count {
		recs = make([]cache.Record, 0, count)
	}
	var prevHi uint64
	var lo [8]byte
	for i := uint64(0); i < count; i++ {
		gap, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, fmt.Errorf("status chunk key %d: %w", i, unexpected(err))
		}
		hi := prevHi + gap
		if hi < prevHi {
			return nil, fmt.Errorf("status chunk key %d: overflow", i)
		}
		if _, err := io.ReadFull(br, lo[:]); err != nil {
			return nil, fmt.Errorf("status chunk key %d: %w", i, unexpected(err))
		}
		var rec cache.Record
		binary.BigEndian.PutUint64(rec.Hash[:8], hi)
		copy(rec.Hash[8:], lo[:])
		if i > 0 && bytes.Compare(rec.Hash[:], recs[i-1].Hash[:]) <= 0 {
			return nil, fmt.Errorf("status chunk key %d: not in increasing order", i)
		}
		recs = append(recs, rec)
		prevHi = hi
	}
	for i := range recs {
		if kind == KindList {
			break
		}
		op, err := br.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("status chunk op %d: %w", i, unexpected(err))
		}
		switch {
		case op <= byte(checkpoint.Green):
			recs[i].Color = checkpoint.Color(op)
		case op == opDelete && kind == KindDelta:
			recs[i].Delete = true
		default:
			return nil, fmt.Errorf("status chunk op %d: bad value %#x", i, op)
		}
	}
	var prevU int64
	for i := range recs {
		d, err := binary.ReadVarint(br)
		if err != nil {
			return nil, fmt.Errorf("status chunk valid_until %d: %w", i, unexpected(err))
		}
		prevU += d
		if prevU < 0 {
			return nil, fmt.Errorf("status chunk valid_until %d: negative", i)
		}
		recs[i].ValidUntil = prevU
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, errors.New("status chunk: trailing data")
	}
	return recs, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Manifest is the feed's table of contents for one version: the target
// "manifest.json", verified through TUF like every other target.
type Manifest struct {
	Format    int       `json:"format"`    // 1
	Version   int64     `json:"version"`   // feed version, from 1, increasing by one per publish
	Published time.Time `json:"published"` // publication time: a lower bound on the true time
	HashKey   string    `json:"hash_key"`  // hex HMAC key the status keys are hashed with
	Statuses  int64     `json:"statuses"`  // rows in the full snapshot
	Snapshot  []string  `json:"snapshot"`  // chunk targets of the full snapshot, in key order
	Deltas    []Delta   `json:"deltas"`    // the newest deltas, oldest first
	// Side files: replaced whole when their content changes.
	Revocations string `json:"revocations,omitempty"`
	TrustList   string `json:"trust_list,omitempty"`
	Rules       string `json:"rules,omitempty"`
}

// Delta is the change from one version to the next.
type Delta struct {
	From    int64    `json:"from"`
	To      int64    `json:"to"`
	Changes int64    `json:"changes"`
	Chunks  []string `json:"chunks"`
}

// MaxManifest caps the manifest's size.
const MaxManifest = 1 << 20

// ParseManifest reads and checks a manifest.
func ParseManifest(b []byte) (*Manifest, error) {
	if len(b) > MaxManifest {
		return nil, fmt.Errorf("manifest is %d bytes, at most %d allowed", len(b), MaxManifest)
	}
	// Unknown fields are allowed: a newer publisher may add some, and every
	// byte is covered by the signed targets metadata anyway.
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if dec.More() {
		return nil, errors.New("manifest: trailing data")
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return &m, nil
}

func (m *Manifest) Check() error {
	if m.Format != 1 {
		return fmt.Errorf("format %d, this build reads 1", m.Format)
	}
	if m.Version < 1 {
		return fmt.Errorf("version %d", m.Version)
	}
	if m.Published.IsZero() {
		return errors.New("no publication time")
	}
	if k, err := hex.DecodeString(m.HashKey); err != nil || len(k) != cache.KeySize {
		return fmt.Errorf("hash_key is not %d bytes of hex", cache.KeySize)
	}
	if m.Statuses < 0 {
		return errors.New("negative status count")
	}
	if m.Statuses > 0 && len(m.Snapshot) == 0 {
		return errors.New("statuses without snapshot chunks")
	}
	if len(m.Snapshot) > 1<<16 {
		return errors.New("too many snapshot chunks")
	}
	want := m.Version - int64(len(m.Deltas)) + 1
	for _, d := range m.Deltas {
		if d.From != want-1 || d.To != want || d.Changes < 0 || len(d.Chunks) > 1<<16 {
			return fmt.Errorf("delta %d→%d does not lead to version %d in steps of one", d.From, d.To, m.Version)
		}
		want++
	}
	for _, p := range m.Targets() {
		if p == "" || strings.Contains(p, "..") || strings.HasPrefix(p, "/") || len(p) > 256 {
			return fmt.Errorf("bad target path %q", p)
		}
	}
	return nil
}

// targets lists every target path the manifest names.
func (m *Manifest) Targets() []string {
	var ps []string
	ps = append(ps, m.Snapshot...)
	for _, d := range m.Deltas {
		ps = append(ps, d.Chunks...)
	}
	for _, p := range []string{m.Revocations, m.TrustList, m.Rules} {
		if p != "" {
			ps = append(ps, p)
		}
	}
	return ps
}

// key returns the manifest's hash key.
func (m *Manifest) Key() []byte {
	k, _ := hex.DecodeString(m.HashKey)
	return k
}

// Revocation lists travel as gzip of: magic "CPRV" | format 1 | count uvarint
// | count × (hash type byte, 16 hash bytes), sorted and unique.
const revMagic = "CPRV"

// MaxRevocations caps a revocation list.
const MaxRevocations = 8 << 20

// revocationHeader is the header a revocation file may start with.
const revocationHeader = "hashtype,hash"

// ParseRevocationsCSV reads `hashtype,hex` rows (hashtype UCI,
// COUNTRYCODEUCI or SIGNATURE; at least 16 bytes of hash, the first 16 kept;
// an optional header line `hashtype,hash`), lines read as cache.LineReader
// does. Errors name the line.
func ParseRevocationsCSV(r io.Reader) ([]cache.Revocation, error) {
	lr := cache.NewLineReader(r)
	var out []cache.Revocation
	for {
		l, err := lr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		f := strings.Split(strings.TrimSpace(l), ",")
		if lr.First() && strings.EqualFold(strings.TrimSpace(f[0]), "hashtype") {
			continue
		}
		rv, err := parseRevocation(lr.Line(), f)
		if err != nil {
			if _, terr := cache.ParseHashType(f[0]); lr.First() && terr != nil {
				err = cache.HeaderError(lr.Line(), l, revocationHeader, err)
			}
			return nil, err
		}
		out = append(out, rv)
		if len(out) > MaxRevocations {
			return nil, &cache.LineError{Line: lr.Line(), Msg: fmt.Sprintf("more than %d revocations", MaxRevocations)}
		}
	}
}

// parseRevocation parses the fields of one revocation row on line n.
func parseRevocation(n int, f []string) (cache.Revocation, error) {
	var rv cache.Revocation
	if len(f) != 2 {
		return rv, &cache.LineError{Line: n, Msg: fmt.Sprintf("%d fields, want hashtype,hash", len(f))}
	}
	t, err := cache.ParseHashType(f[0])
	if err != nil {
		return rv, &cache.LineError{Line: n, Msg: err.Error()}
	}
	h, err := hex.DecodeString(strings.TrimSpace(f[1]))
	if err != nil || len(h) < cache.HashSize {
		return rv, &cache.LineError{Line: n, Msg: fmt.Sprintf("hash is not at least %d bytes of hex", cache.HashSize)}
	}
	rv.Type = t
	copy(rv.Hash[:], h)
	return rv, nil
}

func EncodeRevocations(list []cache.Revocation) ([]byte, error) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	var hdr [16]byte
	copy(hdr[:], revMagic)
	hdr[4] = 1
	n := 5 + binary.PutUvarint(hdr[5:], uint64(len(list)))
	zw.Write(hdr[:n])
	for _, r := range list {
		zw.Write([]byte{byte(r.Type)})
		zw.Write(r.Hash[:])
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func DecodeRevocations(b []byte) ([]cache.Revocation, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("revocation list: %w", err)
	}
	zr.Multistream(false)
	br := bufio.NewReader(zr)
	var hdr [5]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil || string(hdr[:4]) != revMagic || hdr[4] != 1 {
		return nil, errors.New("revocation list: bad header")
	}
	count, err := binary.ReadUvarint(br)
	if err != nil || count > MaxRevocations {
		return nil, errors.New("revocation list: bad count")
	}
	out := make([]cache.Revocation, 0, min(count, 1<<16))
	var rec [1 + cache.HashSize]byte
	for i := uint64(0); i < count; i++ {
		if _, err := io.ReadFull(br, rec[:]); err != nil {
			return nil, fmt.Errorf("revocation list entry %d: %w", i, unexpected(err))
		}
		t := cache.HashType(rec[0])
		if t < cache.HashUCI || t > cache.HashSignature {
			return nil, fmt.Errorf("revocation list entry %d: bad hash type %d", i, rec[0])
		}
		var r cache.Revocation
		r.Type = t
		copy(r.Hash[:], rec[1:])
		out = append(out, r)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, errors.New("revocation list: trailing data")
	}
	return out, nil
}

// MaxTrustList caps the trust list's size.
const MaxTrustList = 16 << 20

// ParseTrustList reads a PEM bundle of DSC certificates and returns their
// DER encodings. Every block must be a CERTIFICATE that parses as X.509.
func ParseTrustList(b []byte) ([][]byte, error) {
	if len(b) > MaxTrustList {
		return nil, fmt.Errorf("trust list is %d bytes, at most %d allowed", len(b), MaxTrustList)
	}
	var ders [][]byte
	rest := b
	for n := 1; ; n++ {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("trust list block %d: type %q, want CERTIFICATE", n, blk.Type)
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return nil, fmt.Errorf("trust list block %d: %w", n, err)
		}
		ders = append(ders, blk.Bytes)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("trust list: data that is not PEM after the last certificate")
	}
	if len(ders) == 0 {
		return nil, errors.New("trust list: no certificates")
	}
	return ders, nil
}

// CheckRules checks a rule profile blob: JSON, at most cache.MaxRules bytes.
// Its meaning is the policy's business.
func CheckRules(b []byte) error {
	if len(b) > cache.MaxRules {
		return fmt.Errorf("rule profile is %d bytes, at most %d allowed", len(b), cache.MaxRules)
	}
	if !json.Valid(b) {
		return errors.New("rule profile is not valid JSON")
	}
	return nil
}
