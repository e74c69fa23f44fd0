package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// The checkpoint binary the black-box tests run: $CHECKPOINT_BIN, or this
// command built once per test process.
var testBin struct {
	once sync.Once
	dir  string
	path string
	err  error
	out  []byte
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testBin.dir != "" {
		os.RemoveAll(testBin.dir)
	}
	os.Exit(code)
}

// checkpointBinary returns the path of the binary under test.
func checkpointBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHECKPOINT_BIN"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	testBin.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		if testBin.dir, testBin.err = os.MkdirTemp("", "checkpoint-bin-"); testBin.err != nil {
			return
		}
		testBin.path = filepath.Join(testBin.dir, "checkpoint")
		testBin.out, testBin.err = exec.Command(goTool, "build", "-o", testBin.path, ".").CombinedOutput()
	})
	if testBin.err != nil {
		t.Fatalf("go build: %v\n%s", testBin.err, testBin.out)
	}
	return testBin.path
}
