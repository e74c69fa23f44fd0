package cache

import (
	"context"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"checkpoint"
)

// fill writes n rows with keys Q0..Qn-1 (hashed) in one snapshot update.
func fill(b testing.TB, d *DB, n int) {
	ctx := context.Background()
	u, err := d.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := u.ClearStatuses(); err != nil {
		b.Fatal(err)
	}
	recs := make([]Record, 0, 1<<16)
	for i := range n {
		recs = append(recs, Record{Hash: d.Hash(fmt.Sprintf("Q%d", i)), Color: checkpoint.Color(i % 3), ValidUntil: int64(1640995200 + i%365*86400)})
		if len(recs) == cap(recs) {
			slices.SortFunc(recs, cmpRec)
			if err := u.Put(recs...); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	if err := u.Put(recs...); err != nil {
		b.Fatal(err)
	}
	if err := u.Commit(); err != nil {
		b.Fatal(err)
	}
	if err := d.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
	// Flush what the fill left for the kernel to write back (the WAL):
	// writeback running during the measurement lengthens the tail several
	// times (BENCHMARKS.md "Cache and feed").
	syscall.Sync()
}

// benchEnv reads a positive integer from the environment, else def.
func benchEnv(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func cmpRec(a, b Record) int {
	for i := range a.Hash {
		if a.Hash[i] != b.Hash[i] {
			return int(a.Hash[i]) - int(b.Hash[i])
		}
	}
	return 0
}

// BenchmarkLookup1M times Status on a cache of one million rows, half the
// keys present, in steady state (WAL checkpointed, pages touched once); it
// reports the p50 and p99 of single lookups.
func BenchmarkLookup1M(b *testing.B) {
	d, err := Open(context.Background(), filepath.Join(b.TempDir(), "c.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	const n = 1000000
	fill(b, d, n)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([]string, 4096)
	for i := range keys {
		if i%2 == 0 {
			keys[i] = fmt.Sprintf("Q%d", r.IntN(n))
		} else {
			keys[i] = fmt.Sprintf("X%d", r.IntN(n))
		}
	}
	for _, k := range keys {
		d.Status(ctx, k)
	}
	for i := range n / 2 {
		d.Status(ctx, fmt.Sprintf("Q%d", i*2))
	}
	lat := newLatencies(len(keys), b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, _, err := d.Status(ctx, keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
		lat.add(i%len(keys), time.Since(start))
	}
	b.StopTimer()
	lat.report(b, "")
}

// BenchmarkApplyDelta times writing a sorted delta of 100k random keys (a
// quarter new, the rest updates) into a cache of one million rows as a run,
// then a merge of the run into the base (forced: a tenth of the base is
// below the merge threshold).
func BenchmarkApplyDelta(b *testing.B) {
	d, err := Open(context.Background(), filepath.Join(b.TempDir(), "c.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	n, m := benchEnv("CHECKPOINT_BENCH_ROWS", 1000000), benchEnv("CHECKPOINT_BENCH_CHANGES", 100000)
	fill(b, d, n)
	ctx := context.Background()
	var merge time.Duration
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		recs := make([]Record, m)
		for i := range recs {
			if i%4 == 0 {
				var h [HashSize]byte
				binary.BigEndian.PutUint64(h[:], rand.Uint64())
				binary.BigEndian.PutUint64(h[8:], rand.Uint64())
				recs[i] = Record{Hash: h, Color: checkpoint.Green}
			} else {
				recs[i] = Record{Hash: d.Hash(fmt.Sprintf("Q%d", rand.IntN(n))), Color: checkpoint.Red, ValidUntil: int64(it)}
			}
		}
		slices.SortFunc(recs, cmpRec)
		recs = slices.CompactFunc(recs, func(a, b Record) bool { return a.Hash == b.Hash })
		start := time.Now()
		u, err := d.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := u.Put(recs...); err != nil {
			b.Fatal(err)
		}
		put := time.Since(start)
		if err := u.Commit(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(recs))/time.Since(start).Seconds(), "keys/s")
		b.ReportMetric(float64(put.Milliseconds()), "put-ms")
		b.ReportMetric(float64((time.Since(start) - put).Milliseconds()), "commit-ms")
		ms, err := d.MergeDeltas(ctx, true)
		if err != nil {
			b.Fatal(err)
		}
		merge += ms.Duration
	}
	b.ReportMetric(float64(merge.Milliseconds())/float64(b.N), "merge-ms/op")
}

// BenchmarkLookupDeltaCost measures what the runs add to a lookup: the
// lookup (filters, then a run or the base table) and a bare probe of
// the base table run alternately, key by key, on one connection (what the
// machine does meanwhile hits both alike), on a cache of one million rows
// (CHECKPOINT_BENCH_ROWS) whose one run holds 1/mergeFraction of them
// (CHECKPOINT_BENCH_DELTA_ROWS), the most the runs hold before a merge. Half the
// keys are present; a tenth of those present are in the run. It
// reports each one's p50 and p99.
func BenchmarkLookupDeltaCost(b *testing.B) {
	d, err := Open(context.Background(), filepath.Join(b.TempDir(), "c.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	n := benchEnv("CHECKPOINT_BENCH_ROWS", 1000000)
	fill(b, d, n)
	ctx := context.Background()
	u, err := d.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	nd := benchEnv("CHECKPOINT_BENCH_DELTA_ROWS", n/mergeFraction)
	recs := make([]Record, 0, nd)
	for i := range nd {
		recs = append(recs, Record{Hash: d.Hash(fmt.Sprintf("Q%d", i*(n/nd))), Color: checkpoint.Red})
	}
	slices.SortFunc(recs, cmpRec)
	if err := u.Put(recs...); err != nil {
		b.Fatal(err)
	}
	if err := u.Commit(); err != nil {
		b.Fatal(err)
	}
	if err := d.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
	syscall.Sync()
	l, err := d.getLookup()
	if err != nil {
		b.Fatal(err)
	}
	defer l.close()
	bare, err := d.getLookup()
	if err != nil {
		b.Fatal(err)
	}
	defer bare.close()
	bst, err := bare.c.Prepare("SELECT s, u FROM status WHERE h = ?1")
	if err != nil {
		b.Fatal(err)
	}
	bare.sts = append(bare.sts, bst)
	bq := bst.(driver.StmtQueryContext)
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([][HashSize]byte, 4096)
	for i := range keys {
		switch {
		case i%2 == 1:
			keys[i] = d.Hash(fmt.Sprintf("X%d", r.IntN(n)))
		case i%20 == 0:
			keys[i] = recs[r.IntN(len(recs))].Hash
		default:
			keys[i] = d.Hash(fmt.Sprintf("Q%d", r.IntN(n)))
		}
	}
	run := [2]func(h []byte) error{
		func(h []byte) error { _, _, _, err := d.lookup(l, h); return err },
		func(h []byte) error { copy(bare.h, h); _, err := bare.run(bq, bare.args, bare.rdest); return err },
	}
	for _, k := range keys {
		run[0](k[:])
		run[1](k[:])
	}
	lat := [2]*latencies{newLatencies(len(keys), b.N), newLatencies(len(keys), b.N)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := keys[i%len(keys)]
		for o := range 2 {
			j := o ^ i&1 // alternate which runs first
			start := time.Now()
			if err := run[j](k[:]); err != nil {
				b.Fatal(err)
			}
			lat[j].add(i%len(keys), time.Since(start))
		}
	}
	b.StopTimer()
	lat[0].report(b, "lookup-")
	lat[1].report(b, "bare-base-")
}

// latencies records timed lookups of a fixed set of keys, each key timed
// many times.
type latencies struct {
	all     []time.Duration
	fastest []time.Duration // per key: its fastest lookup
}

// newLatencies makes room for n lookups of keys keys (none of it counted
// in the benchmark's allocations).
func newLatencies(keys, n int) *latencies {
	return &latencies{all: make([]time.Duration, 0, n), fastest: slices.Repeat([]time.Duration{time.Hour}, keys)}
}

func (l *latencies) add(key int, d time.Duration) {
	l.all = append(l.all, d)
	l.fastest[key] = min(l.fastest[key], d)
}

// report gives p50 and p99 of every lookup, and, when each key was timed at
// least three times, the p99 over keys of each key's fastest lookup: a
// machine stall (see internal/stall) hits a key in one pass, not in all, so
// that figure is what the lookup itself costs.
func (l *latencies) report(b *testing.B, prefix string) {
	slices.Sort(l.all)
	b.ReportMetric(float64(l.all[len(l.all)/2].Nanoseconds()), prefix+"p50-ns")
	b.ReportMetric(float64(l.all[len(l.all)*99/100].Nanoseconds()), prefix+"p99-ns")
	if len(l.all) >= 3*len(l.fastest) {
		slices.Sort(l.fastest)
		b.ReportMetric(float64(l.fastest[len(l.fastest)*99/100].Nanoseconds()), prefix+"fastest-p99-ns")
	}
}

// BenchmarkSnapshot times a snapshot of one million sorted rows
// (CHECKPOINT_BENCH_ROWS): Put through the stage, then the bulk copy into
// the base at Commit.
func BenchmarkSnapshot(b *testing.B) {
	d, err := Open(context.Background(), filepath.Join(b.TempDir(), "c.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	n := benchEnv("CHECKPOINT_BENCH_ROWS", 1000000)
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{Hash: d.Hash(fmt.Sprintf("Q%d", i)), Color: checkpoint.Color(i % 3)}
		if i%5 == 0 {
			recs[i].ValidUntil = int64(1640970000 + i%365*86400)
		}
	}
	slices.SortFunc(recs, cmpRec)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		u, err := d.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := u.ClearStatuses(); err != nil {
			b.Fatal(err)
		}
		for c := range slices.Chunk(recs, 1<<16) {
			if err := u.Put(c...); err != nil {
				b.Fatal(err)
			}
		}
		put := time.Since(start)
		if err := u.Commit(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "keys/s")
		b.ReportMetric(float64(put.Milliseconds()), "put-ms")
		b.ReportMetric(float64((time.Since(start) - put).Milliseconds()), "commit-ms")
	}
}
