package stall

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestProbeSeesStolenTime takes the CPU away from the probe: with
// GOMAXPROCS 1 and a goroutine that spins beside it, the scheduler preempts
// each in turn (every 10 ms), and the probe must report the slices it lost.
func TestProbeSeesStolenTime(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for end := time.Now().Add(time.Millisecond); time.Now().Before(end); {
			}
		}
	}()
	r := Probe(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if r.Duration < 200*time.Millisecond {
		t.Errorf("probe ran %v, want at least 200ms", r.Duration)
	}
	// The spinner holds the only P for a slice at a time, about half the run.
	if r.Stalls == 0 || r.Share() < 0.2 || r.Max < time.Millisecond {
		t.Errorf("probe saw %d stalls, %.0f%% of its time, longest %v; want the spinner's slices", r.Stalls, 100*r.Share(), r.Max)
	}
	if !strings.Contains(r.String(), "stalls/s") {
		t.Errorf("String() = %q", r.String())
	}
}

func TestReportString(t *testing.T) {
	tests := []struct {
		r    Report
		want string
	}{
		{Report{Duration: time.Second}, "no gap of 3µs or more in 1s"},
		{Report{Duration: 2 * time.Second, Stalls: 3000, Stalled: 100 * time.Millisecond, P50: 25 * time.Microsecond, Max: 2 * time.Millisecond},
			"1500 stalls/s of a busy thread, median 25.0 µs, longest 2000.0 µs, 5.0% of its time"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
