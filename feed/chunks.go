package feed

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"checkpoint/cache"
	"checkpoint/feed/format"
)

// A status chunk is read back from the download folder, hash-checked and
// decoded in one goroutine while the chunk before it is written to the
// cache in the caller's: at 10M keys the reading and decoding were an
// eighth of a snapshot's apply, done in turn with the writes. Two record
// buffers alternate between the goroutines, so at most two chunks are in
// memory (format.MaxChunkRecords rows each).

// decodedChunk is one chunk ready to write, or the error that stopped the
// reading.
type decodedChunk struct {
	name         string
	recs         []cache.Record
	read, decode time.Duration
	err          error
}

// putChunks writes the status chunks of one kind; a snapshot's keys must
// rise across chunks as they do within each. It returns the rows written.
func (s *Syncer) putChunks(ctx context.Context, up *repo, u *cache.Update, kind byte, chunks []string) (int64, error) {
	stop, free := make(chan struct{}), make(chan []cache.Record, 2)
	free <- nil
	free <- nil
	out := s.readChunks(up, kind, chunks, free, stop)
	defer func() {
		close(stop)
		for range out { // the reader has stopped using up when out closes
		}
	}()
	var rows int64
	for c := range out {
		if c.err != nil {
			return rows, c.err
		}
		if err := ctx.Err(); err != nil {
			return rows, err
		}
		t := time.Now()
		if err := u.Put(c.recs...); err != nil {
			return rows, fmt.Errorf("apply %s: %w", c.name, err)
		}
		rows += int64(len(c.recs))
		if s.chunkDone != nil {
			s.chunkDone(c.read, c.decode, time.Since(t))
		}
		free <- c.recs[:0]
	}
	return rows, nil
}

// readChunks reads and decodes chunks in order into buffers taken from
// free, and sends each on the channel it returns, which it closes when the
// chunks are done, after an error, or when stop is closed.
func (s *Syncer) readChunks(up *repo, kind byte, chunks []string, free <-chan []cache.Record, stop <-chan struct{}) <-chan decodedChunk {
	out := make(chan decodedChunk)
	go func() {
		defer close(out)
		var last []byte // the previous chunk's last key (a snapshot's)
		for _, name := range chunks {
			var recs []cache.Record
			select {
			case recs = <-free:
			case <-stop:
				return
			}
			c := s.readChunk(up, kind, name, recs, last)
			if c.err == nil && kind == format.KindSnapshot && len(c.recs) > 0 {
				last = append(last[:0], c.recs[len(c.recs)-1].Hash[:]...)
			}
			select {
			case out <- c:
			case <-stop:
				return
			}
			if c.err != nil {
				return
			}
		}
	}()
	return out
}

// readChunk reads one chunk back (verified against its target) and decodes
// it into recs; a snapshot chunk's first key must come after last.
func (s *Syncer) readChunk(up *repo, kind byte, name string, recs []cache.Record, last []byte) decodedChunk {
	c := decodedChunk{name: name}
	t0 := time.Now()
	b, err := up.target(name, s.cfg.MaxTarget)
	if err != nil {
		c.err = err
		return c
	}
	t1 := time.Now()
	c.recs, err = format.DecodeChunk(bytes.NewReader(b), kind, recs, format.MaxChunkRecords)
	c.read, c.decode = t1.Sub(t0), time.Since(t1)
	switch {
	case err != nil:
		c.err = fmt.Errorf("%w: %s: %w", errFeed, name, err)
	case kind == format.KindSnapshot && len(c.recs) > 0 && last != nil && bytes.Compare(c.recs[0].Hash[:], last) <= 0:
		c.err = fmt.Errorf("%w: %s: keys out of order across chunks", errFeed, name)
	}
	return c
}
