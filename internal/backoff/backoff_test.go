package backoff

import (
	"context"
	"testing"
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

func TestWait(t *testing.T) {
	if !Wait(context.Background(), time.Millisecond) {
		t.Error("Wait returned false without cancellation")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Wait(ctx, time.Hour) {
		t.Error("Wait returned true after cancellation")
	}
}
