package cache

import (
	"bytes"
	"checkpoint/clocktest"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"checkpoint"
)

func TestEventLog(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	clk := clocktest.New(t0)
	d := newTestDB(t, Options{Clock: clk})
	l := NewEventLog(d, EventLogOptions{Gate: "gate-3", Clock: clk, PurgeEvery: time.Hour})
	go l.Run(ctx)
	kh := d.KeyHash("QID-1")
	verdicts := []checkpoint.Verdict{
		{Color: checkpoint.Green, Format: checkpoint.FormatVN1405, Reasons: []string{"status from cache"}, At: t0.Add(-40 * 24 * time.Hour), KeyHash: kh},
		{Color: checkpoint.Yellow, Format: checkpoint.FormatCCCD, Reasons: []string{"identity only: check manually", "status cache is stale"}, At: t0.Add(-time.Hour), KeyHash: kh},
		{Color: checkpoint.Red, Format: checkpoint.FormatUnknown, Reasons: []string{"invalid code"}, At: t0},
		{Color: checkpoint.Red, Format: checkpoint.FormatUnknown, Reasons: nil, At: t0.Add(time.Minute)},
	}
	for _, v := range verdicts {
		l.Verdict(checkpoint.Event{Verdict: v, Symbol: checkpoint.Symbol{Text: "secret payload"}})
	}
	cancel()
	<-l.Done()
	if st := l.Stats(); st.Written != 4 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	var b bytes.Buffer
	n, err := d.ExportEvents(context.Background(), &b, t0.Add(-2*time.Hour), false)
	if err != nil || n != 3 {
		t.Fatalf("export = %d, %v", n, err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"time": t0.Add(-time.Hour).Format(time.RFC3339), "gate": "gate-3", "format": "cccd", "verdict": "yellow",
		"reasons": []any{"identity only: check manually", "status cache is stale"}, "key_hash": kh}
	for k, v := range want {
		if got, _ := json.Marshal(first[k]); string(got) != mustJSON(v) {
			t.Errorf("%s = %s, want %s", k, got, mustJSON(v))
		}
	}
	if !strings.Contains(lines[2], `"reasons":[]`) || strings.Contains(lines[2], "key_hash") {
		t.Errorf("entry without reasons or key: %s", lines[2])
	}
	if strings.Contains(b.String(), "secret") || strings.Contains(b.String(), "QID-1") {
		t.Error("export holds the payload or key")
	}

	// Retention: the 40-day-old entry goes, its hourly count stays.
	purged, err := d.PurgeEvents(context.Background(), t0, DefaultRetention, DefaultAggregateRetention)
	if err != nil || purged != 1 {
		t.Fatalf("purge = %d, %v", purged, err)
	}
	n, _ = d.ExportEvents(context.Background(), &bytes.Buffer{}, time.Time{}, false)
	if n != 3 {
		t.Errorf("%d entries after purge, want 3", n)
	}
	var hours []HourCount
	d.HourCounts(context.Background(), time.Time{}, func(h HourCount) error { hours = append(hours, h); return nil })
	if len(hours) != 3 {
		t.Fatalf("hourly counts %+v", hours)
	}
	if hours[2].Count != 2 || hours[2].Verdict != checkpoint.Red || !hours[2].Hour.Equal(t0) {
		t.Errorf("last hour %+v, want 2 red at %v", hours[2], t0)
	}
	// Counts go after the aggregate retention.
	d.PurgeEvents(context.Background(), t0.Add(800*24*time.Hour), DefaultRetention, DefaultAggregateRetention)
	hours = nil
	d.HourCounts(context.Background(), time.Time{}, func(h HourCount) error { hours = append(hours, h); return nil })
	if len(hours) != 0 {
		t.Errorf("hourly counts kept past their retention: %+v", hours)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestEventLogNeverBlocks(t *testing.T) {
	d := newTestDB(t, Options{})
	l := NewEventLog(d, EventLogOptions{Queue: 2})
	// Run is not started: the queue fills and the rest is dropped.
	for range 5 {
		l.Verdict(checkpoint.Event{Verdict: checkpoint.Verdict{At: t0}})
	}
	if st := l.Stats(); st.Dropped != 3 {
		t.Errorf("dropped %d, want 3", st.Dropped)
	}
}

func TestEventLogPeriodicPurge(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	clk := clocktest.New(t0)
	d := newTestDB(t, Options{Clock: clk})
	if err := d.LogEvent(ctx, Event{Time: t0.Add(-31 * 24 * time.Hour), Gate: "g", Format: checkpoint.FormatCCCD}); err != nil {
		t.Fatal(err)
	}
	l := NewEventLog(d, EventLogOptions{Gate: "g", Clock: clk, PurgeEvery: time.Millisecond})
	go l.Run(ctx)
	for deadline := time.Now().Add(30 * time.Second); l.Stats().Purged == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("no purge within 30 s")
		}
	}
	cancel()
	<-l.Done()
	c, _ := d.Count(context.Background())
	if c.Events != 0 {
		t.Errorf("%d entries left", c.Events)
	}
}

// TestPassages: entries count the verdicts other than red at an in gate,
// exits every verdict at an out gate, each gate its own, from the given
// time on; the hourly counts keep the direction.
func TestPassages(t *testing.T) {
	ctx := context.Background()
	d := newTestDB(t, Options{})
	day := time.Date(2021, 10, 1, 17, 0, 0, 0, time.UTC) // midnight in Vietnam
	var evs []Event
	add := func(gate, dir string, v checkpoint.Color, at time.Duration) {
		evs = append(evs, Event{Time: day.Add(at), Gate: gate, Direction: dir, Format: checkpoint.FormatVN1405, Verdict: v})
	}
	add("a", "in", checkpoint.Green, time.Hour)
	add("a", "in", checkpoint.Yellow, time.Hour)
	add("a", "in", checkpoint.Red, time.Hour)
	add("a", "in", checkpoint.Green, -time.Hour) // yesterday
	add("a", "out", checkpoint.Red, 2*time.Hour)
	add("b", "in", checkpoint.Green, time.Hour) // another gate
	if err := d.LogEvents(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	in, out, err := d.Passages(ctx, "a", day)
	if err != nil || in != 2 || out != 1 {
		t.Fatalf("Passages = %d in, %d out, %v; want 2, 1", in, out, err)
	}
	var b strings.Builder
	if _, err := d.ExportEvents(ctx, &b, day, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"gate":"a","direction":"out","format":"vn1405","verdict":"red","count":1`) {
		t.Errorf("hourly export lacks the exit:\n%s", b.String())
	}
}
