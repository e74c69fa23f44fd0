package backoff

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestExponential(t *testing.T) {
	for _, tt := range []struct {
		first, max time.Duration
		n          int
		want       time.Duration
	}{
		{time.Second, time.Minute, 0, time.Second},
		{time.Second, time.Minute, 1, time.Second},
		{time.Second, time.Minute, 2, 2 * time.Second},
		{time.Second, time.Minute, 6, 32 * time.Second},
		{time.Second, time.Minute, 7, time.Minute},
		{time.Second, time.Minute, 1000, time.Minute},
		{0, time.Minute, 3, 0},
	} {
		if got := Exponential(tt.first, tt.max, tt.n); got != tt.want {
			t.Errorf("Exponential(%v, %v, %d) = %v, want %v", tt.first, tt.max, tt.n, got, tt.want)
		}
	}
}

func TestJitter(t *testing.T) {
	d := 10 * time.Second
	seen := map[time.Duration]bool{}
	for range 100 {
		j := Jitter(d)
		if j > d || j < d-d/10 {
			t.Fatalf("Jitter(%v) = %v, outside [%v, %v]", d, j, d-d/10, d)
		}
		seen[j] = true
	}
	if len(seen) < 2 {
		t.Error("Jitter never varies")
	}
	if Jitter(5) != 5 {
		t.Error("tiny durations are not jittered")
	}
}

// TestWait runs in a synctest bubble: the hour passes in fake time.
func TestWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if !Wait(context.Background(), time.Hour) {
			t.Error("Wait returned false without cancellation")
		}
		if got := time.Since(start); got != time.Hour {
			t.Errorf("waited %v, want 1h", got)
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			time.Sleep(time.Minute)
			cancel()
		}()
		start = time.Now()
		if Wait(ctx, time.Hour) {
			t.Error("Wait returned true after cancellation")
		}
		if got := time.Since(start); got != time.Minute {
			t.Errorf("cancelled after %v, want 1m", got)
		}
	})
}
