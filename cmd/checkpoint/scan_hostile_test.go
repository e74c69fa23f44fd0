package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A line too long to be a payload is reported with its line number, and the
// lines after it are still judged (issue 15 item 10).
func TestScanTextLongLine(t *testing.T) {
	in := "******123456|NGUYEN VAN AN|1990-05-17|0|QID0001|\n" +
		strings.Repeat("x", 1<<20) + "\n" +
		"******654321|TRAN THI BINH|1985-01-02|0|QID0002|\n"
	code, res, errs := runScan(t, in, "--json", "--text", "-")
	if code != exitFail {
		t.Errorf("exit %d, want %d (one input could not be read)", code, exitFail)
	}
	if len(res) != 3 {
		t.Fatalf("%d results, want 3: %+v\n%s", len(res), res, errs)
	}
	if res[0].File != "-:1" || len(res[0].Codes) != 1 || res[0].Codes[0].Format != "vn1405" {
		t.Errorf("line 1: %+v", res[0])
	}
	if res[1].File != "-:2" || !strings.Contains(res[1].Error, "longer than") {
		t.Errorf("line 2: %+v, want an error saying the line is too long", res[1])
	}
	if res[2].File != "-:3" || len(res[2].Codes) != 1 || res[2].Codes[0].Format != "vn1405" {
		t.Errorf("line 3 not judged: %+v", res[2])
	}
}

// A FIFO (or any non-regular file) named like an image is skipped with a
// line saying so, instead of blocking scan forever (issue 15 item 9).
func TestScanSkipsNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "x.png")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan struct{})
	var code int
	var res []scanResult
	go func() {
		defer close(done)
		code, res, _ = runScan(t, "", "--json", fifo)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		// Unblock the stuck open so the test process can end.
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("scan of a FIFO did not return")
	}
	if code != exitFail || len(res) != 1 || !strings.Contains(res[0].Error, "not a regular file") {
		t.Errorf("exit %d, results %+v; want 1 and an error saying it is not a regular file", code, res)
	}
	// In a directory too: the FIFO is named and skipped, the rest scanned.
	code, res, _ = runScan(t, "", "--json", dir)
	if len(res) != 1 || !strings.Contains(res[0].Error, "not a regular file") {
		t.Errorf("directory with a FIFO: exit %d, results %+v", code, res)
	}
}

// A second SIGINT ends the process at once, even while a read ignores the
// first (issue 15 item 9).
func TestSecondSignalEndsAtOnce(t *testing.T) {
	bin := checkpointBinary(t)
	cmd := exec.Command(bin, "scan", "--text", "-")
	stdin, err := cmd.StdinPipe() // never written, never closed: the read blocks
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(300 * time.Millisecond)
	for i := 0; i < 2; i++ {
		cmd.Process.Signal(syscall.SIGINT)
		time.Sleep(200 * time.Millisecond)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("still running 10 s after two SIGINTs\n%s", out.String())
	}
}
