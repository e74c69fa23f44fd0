package cache

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"checkpoint"
)

// Event is one event-log entry: what the authority may see of a decision.
// It holds no name, birth date, QID or document number; the credential key
// appears only as its keyed hash.
type Event struct {
	Time    time.Time         `json:"time"`
	Gate    string            `json:"gate"`
	Format  checkpoint.Format `json:"format"`
	Verdict checkpoint.Color  `json:"verdict"`
	Reasons []string          `json:"reasons"`
	KeyHash string            `json:"key_hash,omitempty"` // hex; empty when the code had no key
	// Direction is the gate's: "in" (entry), "out" (exit) or "" (none).
	Direction string `json:"direction,omitempty"`
}

// Default event-log retention.
const (
	DefaultRetention          = 30 * 24 * time.Hour  // entries
	DefaultAggregateRetention = 730 * 24 * time.Hour // hourly counts
)

// LogEvents writes entries and adds them to the hourly counts, in one
// transaction.
func (d *DB) LogEvents(ctx context.Context, evs ...Event) error {
	if len(evs) == 0 {
		return nil
	}
	tx, err := d.wr.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("log events: %w", classify(err))
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, "INSERT INTO event(t, gate, format, verdict, reasons, kh, dir) VALUES (?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		return fmt.Errorf("log events: %w", classify(err))
	}
	defer ins.Close()
	agg, err := tx.PrepareContext(ctx, `INSERT INTO event_hour(hour, gate, format, verdict, dir, n) VALUES (?, ?, ?, ?, ?, 1)
		ON CONFLICT(hour, gate, dir, format, verdict) DO UPDATE SET n = n + 1`)
	if err != nil {
		return fmt.Errorf("log events: %w", classify(err))
	}
	defer agg.Close()
	for _, e := range evs {
		var kh []byte
		if e.KeyHash != "" {
			if kh, err = hex.DecodeString(e.KeyHash); err != nil {
				return fmt.Errorf("log events: key hash is not hex")
			}
		}
		reasons := strings.Join(e.Reasons, "\n")
		t := e.Time.UnixMilli()
		if _, err := ins.ExecContext(ctx, t, e.Gate, string(e.Format), int64(e.Verdict), reasons, kh, e.Direction); err != nil {
			return fmt.Errorf("log events: %w", classify(err))
		}
		if _, err := agg.ExecContext(ctx, e.Time.Unix()/3600, e.Gate, string(e.Format), int64(e.Verdict), e.Direction); err != nil {
			return fmt.Errorf("log events: %w", classify(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("log events: %w", classify(err))
	}
	d.committedLazy()
	return nil
}

// LogEvent writes one entry (see LogEvents).
func (d *DB) LogEvent(ctx context.Context, e Event) error { return d.LogEvents(ctx, e) }

// PurgeEvents deletes entries older than now-retention and hourly counts
// older than now-aggregateRetention. It returns the number of entries deleted.
func (d *DB) PurgeEvents(ctx context.Context, now time.Time, retention, aggregateRetention time.Duration) (int64, error) {
	res, err := d.wr.ExecContext(ctx, "DELETE FROM event WHERE t < ?", now.Add(-retention).UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("purge events: %w", classify(err))
	}
	n, _ := res.RowsAffected()
	if _, err := d.wr.ExecContext(ctx, "DELETE FROM event_hour WHERE hour < ?", now.Add(-aggregateRetention).Unix()/3600); err != nil {
		return n, fmt.Errorf("purge hourly counts: %w", classify(err))
	}
	return n, nil
}

// Events calls fn for each entry at or after since, oldest first.
func (d *DB) Events(ctx context.Context, since time.Time, fn func(Event) error) error {
	rows, err := d.rd.QueryContext(ctx, "SELECT t, gate, format, verdict, reasons, kh, dir FROM event WHERE t >= ? ORDER BY t, rowid", since.UnixMilli())
	if err != nil {
		return fmt.Errorf("read events: %w", classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		var (
			t, v                 int64
			gate, f, reason, dir string
			kh                   []byte
		)
		if err := rows.Scan(&t, &gate, &f, &v, &reason, &kh, &dir); err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		e := Event{Time: time.UnixMilli(t).UTC(), Gate: gate, Format: checkpoint.Format(f), Verdict: checkpoint.Color(v), Reasons: []string{}, Direction: dir}
		if reason != "" {
			e.Reasons = strings.Split(reason, "\n")
		}
		if len(kh) > 0 {
			e.KeyHash = hex.EncodeToString(kh)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read events: %w", classify(err))
	}
	return nil
}

// HourCount is the number of verdicts of one kind in one hour at one gate
// (and its direction, when it has one).
type HourCount struct {
	Hour      time.Time         `json:"hour"`
	Gate      string            `json:"gate"`
	Direction string            `json:"direction,omitempty"`
	Format    checkpoint.Format `json:"format"`
	Verdict   checkpoint.Color  `json:"verdict"`
	Count     int64             `json:"count"`
}

// HourCounts calls fn for each hourly count from the hour holding since on.
func (d *DB) HourCounts(ctx context.Context, since time.Time, fn func(HourCount) error) error {
	rows, err := d.rd.QueryContext(ctx, "SELECT hour, gate, dir, format, verdict, n FROM event_hour WHERE hour >= ? ORDER BY hour, gate, dir, format, verdict", since.Unix()/3600)
	if err != nil {
		return fmt.Errorf("read hourly counts: %w", classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		var h HourCount
		var hour, v int64
		var f string
		if err := rows.Scan(&hour, &h.Gate, &h.Direction, &f, &v, &h.Count); err != nil {
			return fmt.Errorf("read hourly counts: %w", err)
		}
		h.Hour, h.Format, h.Verdict = time.Unix(hour*3600, 0).UTC(), checkpoint.Format(f), checkpoint.Color(v)
		if err := fn(h); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Passage counts: an entry is a verdict other than red at an "in" gate (the
// person was let in, at once or after a manual check); an exit is any
// verdict at an "out" gate (nobody is kept from leaving).
const passageQuery = `SELECT
	coalesce(sum(dir = 'in' AND verdict != 0), 0), coalesce(sum(dir = 'out'), 0)
	FROM event WHERE t >= ? AND gate = ?`

// Passages returns the entries and exits logged at gate since the given
// time (see passageQuery).
func (d *DB) Passages(ctx context.Context, gate string, since time.Time) (in, out int64, err error) {
	if err := d.rd.QueryRowContext(ctx, passageQuery, since.UnixMilli(), gate).Scan(&in, &out); err != nil {
		return 0, 0, fmt.Errorf("count passages: %w", classify(err))
	}
	return in, out, nil
}

// ExportEvents writes the entries at or after since as JSON lines, one object
// per line: {"time":RFC3339,"gate":…,"format":…,"verdict":…,"reasons":[…],"key_hash":…}.
// With hourly set it writes the hourly counts instead:
// {"hour":RFC3339,"gate":…,"format":…,"verdict":…,"count":N}.
func (d *DB) ExportEvents(ctx context.Context, w io.Writer, since time.Time, hourly bool) (int, error) {
	enc := json.NewEncoder(w)
	n := 0
	var err error
	if hourly {
		err = d.HourCounts(ctx, since, func(h HourCount) error { n++; return enc.Encode(h) })
	} else {
		err = d.Events(ctx, since, func(e Event) error { n++; return enc.Encode(e) })
	}
	return n, err
}

// EventLogOptions tune an EventLog.
type EventLogOptions struct {
	Gate               string           // gate name written to every entry
	Direction          string           // the gate's direction written to every entry: "in", "out" or ""
	Queue              int              // entries held while the writer is busy (default 1024)
	Retention          time.Duration    // DefaultRetention when zero
	AggregateRetention time.Duration    // DefaultAggregateRetention when zero
	PurgeEvery         time.Duration    // between purges (default 1h)
	Clock              checkpoint.Clock // for purges (SystemClock when nil)
	Logger             *slog.Logger
}

// EventLogStats are the event log's counters.
type EventLogStats struct {
	Written uint64 // entries stored
	Dropped uint64 // entries lost because the queue was full
	Failed  uint64 // entries lost because a write failed
	Purged  uint64 // entries deleted by retention
}

// EventLog writes verdicts to the cache's event log from its own goroutine:
// it implements checkpoint.Observer, and Verdict never blocks the frame loop
// (when the queue is full the entry is dropped and counted).
type EventLog struct {
	checkpoint.NopObserver
	db    *DB
	opts  EventLogOptions
	q     chan Event
	stats struct{ written, dropped, failed, purged atomic.Uint64 }
	done  chan struct{}
}

var _ checkpoint.Observer = (*EventLog)(nil)

// NewEventLog returns an event log writing into d; call Run to start it.
func NewEventLog(d *DB, opts EventLogOptions) *EventLog {
	if opts.Queue <= 0 {
		opts.Queue = 1024
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.AggregateRetention <= 0 {
		opts.AggregateRetention = DefaultAggregateRetention
	}
	if opts.PurgeEvery <= 0 {
		opts.PurgeEvery = time.Hour
	}
	if opts.Clock == nil {
		opts.Clock = checkpoint.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &EventLog{db: d, opts: opts, q: make(chan Event, opts.Queue), done: make(chan struct{})}
}

// Verdict queues the verdict for the log (implements checkpoint.Observer).
func (l *EventLog) Verdict(e checkpoint.Event) {
	v := e.Verdict
	ev := Event{Time: v.At, Gate: l.opts.Gate, Format: v.Format, Verdict: v.Color, Reasons: v.Reasons, KeyHash: v.KeyHash, Direction: l.opts.Direction}
	if ev.Time.IsZero() {
		ev.Time = l.opts.Clock.Now()
	}
	select {
	case l.q <- ev:
	default:
		l.stats.dropped.Add(1)
	}
}

// Stats returns the counters.
func (l *EventLog) Stats() EventLogStats {
	return EventLogStats{
		Written: l.stats.written.Load(),
		Dropped: l.stats.dropped.Load(),
		Failed:  l.stats.failed.Load(),
		Purged:  l.stats.purged.Load(),
	}
}

// Run writes queued entries in batches and purges old ones every PurgeEvery
// (and once at start) until ctx is done; it then writes what is still queued
// and returns.
func (l *EventLog) Run(ctx context.Context) {
	defer close(l.done)
	l.Purge(ctx)
	tick := time.NewTicker(l.opts.PurgeEvery)
	defer tick.Stop()
	batch := make([]Event, 0, 64)
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case e := <-l.q:
					batch = append(batch, e)
					if len(batch) == cap(batch) {
						l.write(ctx, batch)
						batch = batch[:0]
					}
				default:
					l.write(ctx, batch)
					return
				}
			}
		case <-tick.C:
			l.Purge(ctx)
		case e := <-l.q:
			batch = append(batch[:0], e)
		more:
			for len(batch) < cap(batch) {
				select {
				case e := <-l.q:
					batch = append(batch, e)
				default:
					break more
				}
			}
			l.write(ctx, batch)
			batch = batch[:0]
		}
	}
}

// Done is closed when Run has returned.
func (l *EventLog) Done() <-chan struct{} { return l.done }

func (l *EventLog) write(ctx context.Context, batch []Event) {
	if len(batch) == 0 {
		return
	}
	// Entries already taken from the queue are written even while shutting down.
	if err := l.db.LogEvents(context.WithoutCancel(ctx), batch...); err != nil {
		l.stats.failed.Add(uint64(len(batch)))
		l.opts.Logger.Warn("event log write failed", "entries", len(batch), "err", err)
		return
	}
	l.stats.written.Add(uint64(len(batch)))
}

// Purge deletes entries past retention now (Run calls it periodically).
func (l *EventLog) Purge(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	n, err := l.db.PurgeEvents(ctx, l.opts.Clock.Now(), l.opts.Retention, l.opts.AggregateRetention)
	l.stats.purged.Add(uint64(n))
	if err != nil {
		l.opts.Logger.Warn("event log purge failed", "err", err)
	}
}
