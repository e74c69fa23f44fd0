package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"checkpoint/camera"
	"checkpoint/internal/imagebomb"
)

// TestScanMemoryCeiling runs `checkpoint scan --json` on generated image
// bombs, each in a process of its own, and reads the process's peak
// resident memory: 8192x8192 bombs are refused with an error naming the
// cost, the costliest images under camera.MaxDecodeBytes are decoded, and
// no process goes above 400 MB.
func TestScanMemoryCeiling(t *testing.T) {
	if os.Getenv("CHECKPOINT_SCAN_CHILD") != "" {
		t.Skip("in the child")
	}
	const ceiling = 400 << 20
	type tc struct {
		kind    imagebomb.Kind
		size    int
		refused bool
	}
	var cases []tc
	for _, k := range []imagebomb.Kind{imagebomb.ProgressiveCMYK, imagebomb.RGBA16, imagebomb.ProgressiveColour} {
		cases = append(cases, tc{k, 8192, true})
	}
	for _, k := range []imagebomb.Kind{imagebomb.ProgressiveCMYK, imagebomb.RGBA16, imagebomb.ProgressiveColour, imagebomb.Gray8} {
		s := 8192
		for n := s * s * k.BytesPerPixel(); n+n/16+256<<10 > camera.MaxDecodeBytes; n = s * s * k.BytesPerPixel() {
			s -= 8
		}
		cases = append(cases, tc{k, s, false})
	}
	dir := t.TempDir()
	for _, c := range cases {
		name := strings.ReplaceAll(fmt.Sprintf("%s %dx%d", c.kind, c.size, c.size), " ", "_")
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+c.kind.Ext())
			fh, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := imagebomb.Write(fh, c.kind, c.size, c.size); err != nil {
				t.Fatal(err)
			}
			fh.Close()
			cmd := exec.Command(os.Args[0], "-test.run=^TestScanChild$")
			cmd.Env = append(os.Environ(), "CHECKPOINT_SCAN_CHILD="+path)
			out, _ := cmd.CombinedOutput()
			rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
			code := cmd.ProcessState.ExitCode()
			t.Logf("peak RSS %d MiB, exit %d", rss>>20, code)
			refused := bytes.Contains(out, []byte(`needs `)) && bytes.Contains(out, []byte(`MiB allowed`))
			if refused != c.refused || (code == 0) == c.refused {
				t.Errorf("refused %v exit %d, want refused %v:\n%s", refused, code, c.refused, out)
			}
			if rss > ceiling {
				t.Errorf("peak RSS %d MiB, ceiling %d MiB", rss>>20, ceiling>>20)
			}
		})
	}
}

// TestScanChild is the child of TestScanMemoryCeiling: `scan --json FILE`,
// exiting with scan's status.
func TestScanChild(t *testing.T) {
	path := os.Getenv("CHECKPOINT_SCAN_CHILD")
	if path == "" {
		t.Skip("run by TestScanMemoryCeiling")
	}
	var errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: os.Stdout, stderr: &errb, getenv: func(string) string { return "" }}
	code := dispatch(context.Background(), e, []string{"scan", "--json", path})
	os.Stderr.Write(errb.Bytes())
	os.Exit(code)
}
