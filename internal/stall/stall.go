// Package stall measures how often, and for how long, the machine stops a
// busy thread: the floor under any latency percentile measured on it.
//
// A virtual machine can take its vCPU away for tens of microseconds a few
// thousand times a second without reporting steal time; every latency
// benchmark then carries those gaps in its tail. The benchmarks print this
// probe beside their percentiles so a run can be judged by the machine it ran on.
package stall

import (
	"fmt"
	"slices"
	"time"
)

// Threshold is the shortest gap between two clock reads counted as a stall
// (a clock read in a tight loop takes tens of nanoseconds).
const Threshold = 3 * time.Microsecond

// Report is what one probe saw.
type Report struct {
	Duration time.Duration // how long the probe ran
	Stalls   int           // gaps of Threshold or more
	Stalled  time.Duration // their sum
	P50, Max time.Duration // median and longest gap
}

// PerSecond is the rate of stalls.
func (r Report) PerSecond() float64 { return float64(r.Stalls) / r.Duration.Seconds() }

// Share is the fraction of the probe's time the thread was stopped.
func (r Report) Share() float64 { return r.Stalled.Seconds() / r.Duration.Seconds() }

// String formats r for a benchmark report.
func (r Report) String() string {
	if r.Stalls == 0 {
		return fmt.Sprintf("no gap of %v or more in %v", Threshold, r.Duration)
	}
	return fmt.Sprintf("%.0f stalls/s of a busy thread, median %.1f µs, longest %.1f µs, %.1f%% of its time",
		r.PerSecond(), float64(r.P50)/1e3, float64(r.Max)/1e3, 100*r.Share())
}

// Probe reads the clock in a tight loop for d and records every gap of
// Threshold or more between two reads.
func Probe(d time.Duration) Report {
	var gaps []time.Duration
	start := time.Now()
	last := start
	for last.Sub(start) < d {
		now := time.Now()
		if g := now.Sub(last); g >= Threshold {
			gaps = append(gaps, g)
		}
		last = now
	}
	r := Report{Duration: last.Sub(start), Stalls: len(gaps)}
	if len(gaps) == 0 {
		return r
	}
	slices.Sort(gaps)
	for _, g := range gaps {
		r.Stalled += g
	}
	r.P50, r.Max = gaps[len(gaps)/2], gaps[len(gaps)-1]
	return r
}
