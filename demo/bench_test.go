package demo_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"checkpoint"
	"checkpoint/camera"
	"checkpoint/credential"
	"checkpoint/decode"
	"checkpoint/policy"
)

// latencies keeps every frame-to-verdict latency.
type latencies struct {
	checkpoint.NopObserver
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) Verdict(e checkpoint.Event) {
	l.mu.Lock()
	l.d = append(l.d, e.Latency)
	l.mu.Unlock()
}

// nopIndicator drives no outputs: the benchmark measures the loop alone.
type nopIndicator struct{}

func (nopIndicator) Show(checkpoint.Color)    {}
func (nopIndicator) Idle(checkpoint.IdleMode) {}

// BenchmarkFrameToVerdict replays the demo scene (640x480) through the real
// loop at 30 fps, paced like a camera, and reports the frame-to-verdict
// latency percentiles: from the frame's arrival in the mailbox to its verdict.
// Each iteration is one pass (about 3 s); run with -benchtime Nx.
func BenchmarkFrameToVerdict(b *testing.B) {
	ctx := context.Background()
	paths, db := setup(b)
	lat := &latencies{}
	var dropped uint64
	// One decoder, parser and judge for all passes, as in a daemon that runs
	// for months: only the very first frame after start finds them cold.
	dec := decode.New(decode.Options{})
	parser := &credential.Parser{Trust: db}
	judge := &policy.Judge{Store: db, Rules: policy.DefaultRules(), Stale: db.Stale}
	b.ResetTimer()
	for range b.N {
		src, err := camera.NewReplay(paths, camera.ReplayOptions{FPS: 30})
		if err != nil {
			b.Fatal(err)
		}
		s := &checkpoint.Scanner{
			Source:       src,
			Decoder:      dec,
			Parser:       parser,
			Judge:        judge,
			Indicator:    nopIndicator{},
			StallTimeout: time.Minute,
			Observers:    []checkpoint.Observer{lat},
		}
		if err := s.Run(ctx); err != nil {
			b.Fatal(err)
		}
		dropped += src.Stats().Dropped
		src.Close()
	}
	b.StopTimer()
	d := lat.d
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	if len(d) == 0 {
		b.Fatal("no verdicts")
	}
	q := func(p float64) float64 {
		i := min(len(d)-1, max(0, int(p*float64(len(d))+0.5)-1))
		return float64(d[i].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(len(d))/float64(b.N), "verdicts/pass")
	b.ReportMetric(float64(dropped)/float64(b.N), "dropped/pass")
}
