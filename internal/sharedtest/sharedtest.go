// Package sharedtest locates the shared external test data (zxing blackbox
// images, EU DCC test cases) for tests: $CHECKPOINT_TESTDATA, else
// ../shared/testdata beside the repository. The data is never copied into
// the repository.
package sharedtest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir returns the test data directory, failing the test when it is missing.
func Dir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("CHECKPOINT_TESTDATA")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		// internal/sharedtest/sharedtest.go → repository root → ../shared/testdata
		dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "testdata")
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Fatalf("shared test data not found at %s (set CHECKPOINT_TESTDATA): %v", dir, err)
	}
	return dir
}

// Path joins elements onto Dir.
func Path(t testing.TB, elem ...string) string {
	t.Helper()
	return filepath.Join(append([]string{Dir(t)}, elem...)...)
}
