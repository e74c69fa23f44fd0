package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "state.json")
	for _, tc := range []struct {
		data string
		mode os.FileMode
	}{{"first\n", 0o600}, {"second, longer\n", 0o644}} {
		if err := Write(name, []byte(tc.data), tc.mode); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(name)
		if err != nil || string(b) != tc.data {
			t.Fatalf("read back %q, %v; want %q", b, err, tc.data)
		}
		if fi, _ := os.Stat(name); fi.Mode().Perm() != tc.mode {
			t.Fatalf("mode %v, want %v", fi.Mode().Perm(), tc.mode)
		}
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Fatalf("%d entries left in the directory, want only the file", len(es))
	}
	// A directory that does not exist: an error, nothing written.
	if err := Write(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600); err == nil {
		t.Fatal("no error writing into a missing directory")
	}
}
