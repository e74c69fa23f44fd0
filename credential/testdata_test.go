package credential

import (
	"os"
	"path/filepath"
	"testing"
)

// testdataDir returns the shared test data directory: $CHECKPOINT_TESTDATA,
// else ../shared/testdata beside the repository root. It skips the test when
// neither exists and fails when $CHECKPOINT_TESTDATA names a missing one.
func testdataDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("CHECKPOINT_TESTDATA"); d != "" {
		if _, err := os.Stat(d); err != nil {
			t.Fatalf("CHECKPOINT_TESTDATA: %v", err)
		}
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "..", "shared", "testdata")
			if _, err := os.Stat(d); err != nil {
				t.Skipf("no shared test data at %s (set CHECKPOINT_TESTDATA)", d)
			}
			return d
		}
		if filepath.Dir(dir) == dir {
			t.Skip("no go.mod above the working directory")
		}
	}
}
