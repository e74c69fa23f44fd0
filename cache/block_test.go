package cache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
)

func TestIntWidth(t *testing.T) {
	for _, c := range []struct {
		v int64
		w int
	}{
		{0, 0}, {1, 1}, {-1, 1}, {127, 1}, {-128, 1}, {128, 2}, {-129, 2},
		{-19000, 2}, {32767, 2}, {-32769, 3}, {1640970000, 4}, {1 << 31, 5},
		{1 << 49, 7}, {math.MaxInt64, 8}, {math.MinInt64, 8},
	} {
		if got := intWidth(c.v); got != c.w {
			t.Errorf("intWidth(%d) = %d, want %d", c.v, got, c.w)
		}
		for w := c.w; w <= 8; w++ {
			b := make([]byte, w)
			putInt(b, c.v)
			if got := getInt(b); got != c.v {
				t.Errorf("%d in %d bytes reads back as %d", c.v, w, got)
			}
		}
	}
}

// blockKey is a key whose leading 8 bytes are hi and the rest lo.
func blockKey(hi, lo uint64) []byte {
	h := make([]byte, HashSize)
	binary.BigEndian.PutUint64(h, hi)
	binary.BigEndian.PutUint64(h[8:], lo)
	return h
}

// TestBlockWriter: rows packed into blocks are each found in the block with
// the highest id at most their own (their run and leading bits), with their
// status and valid-until, whatever their widths; a block ends only where
// the leading bits change, so a cluster of keys sharing them stays in one
// block however large; a key written again replaces its row; a key lower
// than the last is refused.
func TestBlockWriter(t *testing.T) {
	type row struct {
		h    []byte
		s, u int64
	}
	var rows []row
	untils := []int64{0, -19000, 1640970000, 1 << 50, math.MinInt64, 5}
	for i := range 3000 {
		hi := uint64(i) << 44 // a new 40-bit prefix each row
		if i >= 1000 && i < 1700 {
			hi = 1000 << 44 // 700 keys sharing one prefix, across where a block would end
		}
		rows = append(rows, row{blockKey(hi, uint64(i)), int64(i%4 - 1), untils[i%len(untils)]})
	}
	blocks := map[int64][]byte{}
	const g = 7
	bw, err := newBlockWriter(g, func(id int64, b []byte) error {
		if _, dup := blocks[id]; dup {
			return fmt.Errorf("block id %x stored twice", id)
		}
		blocks[id] = slices.Clone(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if i == 10 {
			// Written again: the second row replaces the first.
			if err := bw.add(r.h, 2, 99); err != nil {
				t.Fatal(err)
			}
		}
		if err := bw.add(r.h, r.s, r.u); err != nil {
			t.Fatal(err)
		}
	}
	if err := bw.add(rows[5].h, 0, 0); !errors.Is(err, errUnsorted) {
		t.Fatalf("a lower key after the last: %v, want errUnsorted", err)
	}
	if err := bw.flush(); err != nil {
		t.Fatal(err)
	}
	if bw.n != int64(len(rows)) {
		t.Fatalf("%d rows written, want %d", bw.n, len(rows))
	}
	ids := make([]int64, 0, len(blocks))
	for id, b := range blocks {
		if id>>blockKeyBits != g {
			t.Fatalf("block id %x is not run %d's", id, g)
		}
		n, w, err := block(b).dims()
		if err != nil {
			t.Fatal(err)
		}
		// Past the rows that fill it, only keys of its last key's prefix.
		full := (maxBlock - blockHeader) / (HashSize + 1 + w)
		for i := full - 1; i < n; i++ {
			if keyPrefix(block(b).key(i)) != keyPrefix(block(b).key(n-1)) {
				t.Fatalf("block %x of %d rows (%d bytes) goes on past %d rows", id, n, len(b), full)
			}
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	holder := func(h []byte) block {
		want := runFirstID(g) | keyPrefix(h)
		i, _ := slices.BinarySearch(ids, want+1)
		if i == 0 {
			return nil
		}
		return blocks[ids[i-1]]
	}
	for _, r := range rows {
		s, u, ok, err := holder(r.h).find(r.h)
		if err != nil || !ok || s != r.s || u != r.u {
			t.Fatalf("key %x: %d %d %v %v, want %d %d", r.h, s, u, ok, err, r.s, r.u)
		}
		absent := bytes.Clone(r.h)
		absent[8] = 0xff // no key written has it
		if b := holder(absent); b != nil {
			if _, _, ok, _ := b.find(absent); ok {
				t.Fatalf("key %x found, never written", absent)
			}
		}
	}
}

// TestBlockDims: a block whose size does not match its header is refused
// as corrupt, not read past its end.
func TestBlockDims(t *testing.T) {
	for _, b := range [][]byte{nil, {0, 1}, {0, 1, 0}, {9, 0, 0}, append([]byte{2, 1, 0}, make([]byte, HashSize+2)...)} {
		if _, _, err := block(b).dims(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("dims(%x) = %v, want ErrCorrupt", b, err)
		}
	}
	b := append([]byte{2, 1, 0}, make([]byte, HashSize+3)...)
	if n, w, err := block(b).dims(); n != 1 || w != 2 || err != nil {
		t.Errorf("dims of a one-row block = %d %d %v", n, w, err)
	}
}

// FuzzBlock: any bytes read as a block are refused or read within their
// length, never past it.
func FuzzBlock(f *testing.F) {
	one := append([]byte{2, 1, 0}, make([]byte, HashSize+3)...)
	f.Add(one, make([]byte, HashSize))
	f.Add([]byte{0, 2, 0}, []byte{1})
	f.Fuzz(func(t *testing.T, b, h []byte) {
		n, w, err := block(b).dims()
		if err != nil {
			return
		}
		for i := range n {
			block(b).row(n, w, i)
		}
		if len(h) == HashSize {
			block(b).find(h)
		}
	})
}
