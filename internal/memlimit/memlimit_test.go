package memlimit

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestSet(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	total := physical()
	if total < 1<<26 {
		t.Fatalf("machine memory read as %d bytes", total)
	}
	t.Setenv("GOMEMLIMIT", "")
	debug.SetMemoryLimit(math.MaxInt64)
	if got, want := Set(), int64(float64(total)*Fraction); got != want || debug.SetMemoryLimit(-1) != want {
		t.Fatalf("limit %d, want %d (3/4 of %d)", got, want, total)
	}
	// GOMEMLIMIT set: the runtime's own reading of it stands.
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetMemoryLimit(1 << 30)
	if got := Set(); got != 1<<30 {
		t.Fatalf("with GOMEMLIMIT set the limit became %d", got)
	}
}
