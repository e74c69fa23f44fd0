// Package memlimit gives the Go garbage collector a soft limit below the
// machine's memory. With the default GOGC alone a heap may grow to twice
// what is live: an authority's publish of 100M keys holds about 15 GB live
// and was killed by the kernel on a 24 GiB machine before the collector ran.
package memlimit

import (
	"os"
	"runtime/debug"
	"syscall"
)

// Fraction of the machine's memory the heap is kept under.
const Fraction = 0.75

// Set sets the soft limit to Fraction of the machine's memory unless
// GOMEMLIMIT is set, and returns the limit in force (math.MaxInt64: none).
func Set() int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1)
	}
	total := physical()
	if total <= 0 {
		return debug.SetMemoryLimit(-1)
	}
	limit := int64(float64(total) * Fraction)
	debug.SetMemoryLimit(limit)
	return limit
}

// physical is the machine's memory in bytes, 0 when unknown.
func physical() int64 {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}
