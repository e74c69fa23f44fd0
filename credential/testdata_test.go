package credential

import (
	"testing"

	"checkpoint/internal/sharedtest"
)

// testdataDir is the shared external test data (see internal/sharedtest).
func testdataDir(t testing.TB) string { return sharedtest.Dir(t) }
