package cache

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// A run's rows are stored packed, about fifty to a row of
// status_block(id INTEGER PRIMARY KEY, b BLOB): eight blocks to a page. As
// rows of a WITHOUT ROWID table, (g, h, s, u), a run cost 30 bytes a row
// on disk: 26 a cell, and SQLite leaves a page filled in key order 88%
// full (stage.go); each run also rewrote the last three pages of the run
// before it, sharing their cells out. A block is 17 bytes a row and a byte
// or two of valid-until, and blocks are appended to a table keyed by an
// integer, whose pages SQLite fills to the brim without touching the pages
// before but the last. An hourly delta writes a third fewer pages (15 for
// 4,200 rows where it wrote 23), to the WAL and again at the checkpoint:
// what wears a gate's SD card.
//
// A block's id is its run g in the high bits and the leading 40 bits of its
// first key below (blockID). A run's rows are packed in key order, and a
// block ends only where the next key's leading 40 bits differ, so every key
// of run g is in the block with the highest id ≤ blockID(g, key).
//
// A block's bytes: w (the bytes of each valid-until), n (uint16, little
// endian), then the n keys (HashSize bytes each, increasing), n statuses
// (one signed byte each; tombstone a removal), n valid-untils (w bytes each,
// little endian, two's complement: the u column's short form, until.go).

// blockKeyBits is how many leading bits of a key a block's id holds.
const blockKeyBits = 40

// maxRunGen is the highest run a block's id can name.
const maxRunGen = 1<<(63-blockKeyBits) - 1

// blockHeader is the bytes before a block's keys.
const blockHeader = 3

// maxBlock is the bytes a block grows to before the next starts: eight
// fill a page (each with its cell's header and pointer, up to 32 bytes; the
// page's header). A lookup copies one block out of SQLite for each run it
// asks, so a block is kept small; a page holding eight costs under 1% more
// than one.
const maxBlock = (pageSize-8)/blocksPerPage - 32

// blocksPerPage is how many blocks of maxBlock bytes fill a page.
const blocksPerPage = 8

// maxBlockRows is the most rows a block can say it holds.
const maxBlockRows = 1<<16 - 1

// errUnsorted: a run's rows did not come in increasing key order.
var errUnsorted = errors.New("run rows out of key order")

// keyPrefix is the leading blockKeyBits of key h.
func keyPrefix(h []byte) int64 {
	return int64(binary.BigEndian.Uint64(h[:8]) >> (64 - blockKeyBits))
}

// runFirstID is the lowest block id of run g; runFirstID(g+1)-1 the highest.
func runFirstID(g int64) int64 { return g << blockKeyBits }

// block is one status_block row's bytes.
type block []byte

// dims checks b's size and returns its rows and valid-until width.
func (b block) dims() (n, w int, err error) {
	if len(b) >= blockHeader {
		n, w = int(binary.LittleEndian.Uint16(b[1:3])), int(b[0])
		if w <= 8 && len(b) == blockHeader+n*(HashSize+1+w) {
			return n, w, nil
		}
	}
	return 0, 0, fmt.Errorf("%w: a status block of %d bytes", ErrCorrupt, len(b))
}

// key is row i's key (n rows).
func (b block) key(i int) []byte {
	return b[blockHeader+i*HashSize : blockHeader+(i+1)*HashSize]
}

// row returns row i of b, which holds n rows of width w.
func (b block) row(n, w, i int) (h []byte, s, u int64) {
	s = int64(int8(b[blockHeader+n*HashSize+i]))
	off := blockHeader + n*(HashSize+1) + i*w
	return b.key(i), s, getInt(b[off : off+w])
}

// find looks h up in b.
func (b block) find(h []byte) (s, u int64, ok bool, err error) {
	n, w, err := b.dims()
	if err != nil {
		return 0, 0, false, err
	}
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(b.key(m), h) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == n || !bytes.Equal(b.key(lo), h) {
		return 0, 0, false, nil
	}
	_, s, u = b.row(n, w, lo)
	return s, u, true, nil
}

// intWidth is the fewest bytes that hold v in two's complement (0 for 0).
func intWidth(v int64) int {
	w := 0
	for ; w < 8 && v != v<<(64-8*w)>>(64-8*w); w++ {
	}
	return w
}

// putInt writes v's low len(dst) bytes, little endian.
func putInt(dst []byte, v int64) {
	for i := range dst {
		dst[i] = byte(v >> (8 * i))
	}
}

// getInt reads what putInt wrote, sign-extended.
func getInt(src []byte) int64 {
	if len(src) == 0 {
		return 0
	}
	var v uint64
	for i := len(src) - 1; i >= 0; i-- {
		v = v<<8 | uint64(src[i])
	}
	sh := 64 - 8*len(src)
	return int64(v<<sh) >> sh
}

// blockWriter packs one run's rows, in increasing key order, into blocks
// and stores each as it fills. A row of the key just added replaces it.
type blockWriter struct {
	g     int64
	store func(id int64, b []byte) error
	keys  []byte // the rows not yet stored
	ss    []int8
	us    []int64
	w     int // the widest valid-until among them
	n     int64
	buf   []byte
}

func newBlockWriter(g int64, store func(id int64, b []byte) error) (*blockWriter, error) {
	if g < 0 || g > maxRunGen {
		return nil, fmt.Errorf("run %d is beyond the %d a block can name", g, maxRunGen)
	}
	return &blockWriter{g: g, store: store}, nil
}

// add appends one row (s and u as stored; a status out of range, from a
// damaged file, is kept out of range: it reads as red, never as removed).
func (bw *blockWriter) add(h []byte, s, u int64) error {
	if s < tombstone || s > math.MaxInt8 {
		s = math.MaxInt8
	}
	rows := len(bw.ss)
	if rows > 0 {
		last := bw.keys[(rows-1)*HashSize:]
		switch c := bytes.Compare(h, last); {
		case c < 0:
			return errUnsorted
		case c == 0:
			bw.ss[rows-1], bw.us[rows-1] = int8(s), u
			bw.w = max(bw.w, intWidth(u))
			return nil
		}
		w := max(bw.w, intWidth(u))
		if keyPrefix(h) != keyPrefix(last) && blockHeader+(rows+1)*(HashSize+1+w) > maxBlock {
			if err := bw.flush(); err != nil {
				return err
			}
		}
	}
	if len(bw.ss) == maxBlockRows {
		return fmt.Errorf("run %d: more than %d keys share their leading %d bits", bw.g, maxBlockRows, blockKeyBits)
	}
	bw.keys = append(bw.keys, h...)
	bw.ss = append(bw.ss, int8(s))
	bw.us = append(bw.us, u)
	bw.w = max(bw.w, intWidth(u))
	bw.n++
	return nil
}

// flush stores the rows not yet stored as one block.
func (bw *blockWriter) flush() error {
	n := len(bw.ss)
	if n == 0 {
		return nil
	}
	size := blockHeader + n*(HashSize+1+bw.w)
	b := slices.Grow(bw.buf[:0], size)[:size]
	b[0], b[1], b[2] = byte(bw.w), byte(n), byte(n>>8)
	copy(b[blockHeader:], bw.keys)
	for i, s := range bw.ss {
		b[blockHeader+n*HashSize+i] = byte(s)
	}
	for i, u := range bw.us {
		off := blockHeader + n*(HashSize+1) + i*bw.w
		putInt(b[off:off+bw.w], u)
	}
	if err := bw.store(runFirstID(bw.g)|keyPrefix(bw.keys), b); err != nil {
		return fmt.Errorf("store a block of run %d: %w", bw.g, err)
	}
	bw.buf, bw.keys, bw.ss, bw.us, bw.w = b, bw.keys[:0], bw.ss[:0], bw.us[:0], 0
	return nil
}

// blockStore stores blocks in tx.
func blockStore(ctx context.Context, tx *sql.Tx) func(id int64, b []byte) error {
	return func(id int64, b []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err := tx.ExecContext(context.WithoutCancel(ctx), "INSERT INTO status_block(id, b) VALUES (?, ?)", id, b)
		return classify(err)
	}
}

// packRun stores the rows query gives (h, s, u, in increasing key order)
// as run g in tx, calling key (if not nil) with each key. It returns the
// rows stored.
func packRun(ctx context.Context, tx *sql.Tx, g int64, key func(h []byte), query string, args ...any) (int64, error) {
	// Not cancelled mid-statement (that rolls the transaction back under
	// the writes); blockStore checks ctx before each block.
	rows, err := tx.QueryContext(context.WithoutCancel(ctx), query, args...)
	if err != nil {
		return 0, fmt.Errorf("read run %d's rows: %w", g, classify(err))
	}
	defer rows.Close()
	bw, err := newBlockWriter(g, blockStore(ctx, tx))
	if err != nil {
		return 0, err
	}
	var h sql.RawBytes
	var s, u int64
	for rows.Next() {
		if err := rows.Scan(&h, &s, &u); err != nil {
			return 0, fmt.Errorf("read run %d's rows: %w", g, err)
		}
		if len(h) != HashSize {
			return 0, fmt.Errorf("%w: a status key is %d bytes, want %d", ErrCorrupt, len(h), HashSize)
		}
		if key != nil {
			key(h)
		}
		if err := bw.add(h, s, shortUntil(u)); err != nil {
			return 0, err
		}
	}
	if err := rows.Err(); err != nil {
		return 0, classify(err)
	}
	return bw.n, bw.flush()
}

// packStage stores the stage's rows as run g in tx (packRun), and empties
// the stage.
func packStage(ctx context.Context, tx *sql.Tx, g int64, key func(h []byte)) (int64, error) {
	n, err := packRun(ctx, tx, g, key, "SELECT h, s, u FROM stage.status ORDER BY h")
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(context.WithoutCancel(ctx), "DROP TABLE stage.status"); err != nil {
		return 0, fmt.Errorf("empty the stage: %w", classify(err))
	}
	return n, nil
}

// eachRunRow calls fn with every row of the blocks rows gives (id, b), in
// their order.
func eachRunRow(rows *sql.Rows, fn func(g int64, h []byte, s, u int64) error) error {
	defer rows.Close()
	var id int64
	var b sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&id, &b); err != nil {
			return fmt.Errorf("read status blocks: %w", err)
		}
		n, w, err := block(b).dims()
		if err != nil {
			return fmt.Errorf("read status block %#x: %w", id, err)
		}
		for i := range n {
			h, s, u := block(b).row(n, w, i)
			if err := fn(id>>blockKeyBits, h, s, u); err != nil {
				return err
			}
		}
	}
	return classify(rows.Err())
}
