package camera

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	qrcode "github.com/skip2/go-qrcode"
)

// fakeEnv names the directory that turns the test binary into a fake
// rpicam-vid: it is set when the test binary is run through a symlink named
// rpicam-vid put first on PATH.
const fakeEnv = "CHECKPOINT_FAKE_RPICAM"

func TestMain(m *testing.M) {
	if dir := os.Getenv(fakeEnv); dir != "" {
		os.Exit(fakeRPiCam(dir, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// installFake puts a fake rpicam-vid first on PATH, playing the script:
// line n says what the n-th process started does (the last line repeats):
//
//	run            write frames until killed
//	crash N        write N frames and half of the next, then die by SIGKILL
//	stall N        write N frames, then nothing, staying alive
//	exit N         write N frames, then exit with status 0
//
// followed by any of the flags: ignore-term (SIGTERM is ignored), fork
// (start a helper process in the same process group), flood (write 500
// stderr lines first), fast (one frame, repeated without pause).
func installFake(t *testing.T, script ...string) string {
	t.Helper()
	return installFakeB(t, script...)
}

// installFakeB is installFake for tests and benchmarks.
func installFakeB(t testing.TB, script ...string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(bin, "rpicam-vid")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "script"), []byte(strings.Join(script, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv(fakeEnv, dir)
	return dir
}

// fakePids returns the pids of the fake processes started so far, and of the
// helpers they forked.
func fakePids(t *testing.T, dir, name string) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var pids []int
	for _, l := range strings.Fields(string(b)) {
		p, err := strconv.Atoi(l)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, p)
	}
	return pids
}

// alive reports whether a process exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// gone waits up to d for pid to be dead (or a zombie), and reports whether it is.
func gone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// fakeFrameText is the text of the QR code in frame k of process n.
func fakeFrameText(n, k int) string { return fmt.Sprintf("CHECKPOINT-FAKE|%d|%d", n, k) }

// renderY draws a QR code of text centred on a light background into a Y
// plane of the given size and stride; the padding bytes past the width are
// 0x5a, so a reader that ignores the stride sees a skewed image. Pixels 0
// and 1 of row 0 carry n and k.
func renderY(text string, n, k, w, h, stride int) []byte {
	y := make([]byte, stride*h)
	for r := 0; r < h; r++ {
		row := y[r*stride : (r+1)*stride]
		for x := range row {
			if x < w {
				row[x] = 220
			} else {
				row[x] = 0x5a
			}
		}
	}
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		panic(err)
	}
	bm := q.Bitmap()
	scale := min(w, h) / (len(bm) + 2)
	scale = max(1, min(scale, 6))
	x0, y0 := (w-len(bm)*scale)/2, (h-len(bm)*scale)/2
	for j, line := range bm {
		for i, dark := range line {
			if !dark {
				continue
			}
			for dy := 0; dy < scale; dy++ {
				for dx := 0; dx < scale; dx++ {
					px, py := x0+i*scale+dx, y0+j*scale+dy
					if px >= 0 && px < w && py >= 0 && py < h {
						y[py*stride+px] = 20
					}
				}
			}
		}
	}
	y[0], y[1] = byte(n), byte(k)
	return y
}

// fakeRPiCam is the fake rpicam-vid's main.
func fakeRPiCam(dir string, args []string) int {
	opts := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") || a == "-o" || a == "-t" {
			opts[a] = args[i+1]
			i++
			continue
		}
		opts[a] = ""
	}
	for _, need := range []string{"-t", "-n", "--codec", "--width", "--height", "--framerate", "-o"} {
		if _, ok := opts[need]; !ok {
			fmt.Fprintf(os.Stderr, "fake rpicam-vid: missing %s in %q\n", need, args)
			return 2
		}
	}
	if opts["--codec"] != "yuv420" || opts["-o"] != "-" || opts["-t"] != "0" {
		fmt.Fprintf(os.Stderr, "fake rpicam-vid: want --codec yuv420 -o - -t 0, got %q\n", args)
		return 2
	}
	w, _ := strconv.Atoi(opts["--width"])
	h, _ := strconv.Atoi(opts["--height"])
	fps, _ := strconv.ParseFloat(opts["--framerate"], 64)
	if w <= 0 || h <= 0 || fps <= 0 {
		fmt.Fprintf(os.Stderr, "fake rpicam-vid: bad size or rate in %q\n", args)
		return 2
	}

	n := len(readLines(filepath.Join(dir, "pids"))) + 1
	appendLine(filepath.Join(dir, "pids"), strconv.Itoa(os.Getpid()))
	appendLine(filepath.Join(dir, "args"), strings.Join(args, " "))
	script := readLines(filepath.Join(dir, "script"))
	line := script[min(n, len(script))-1]
	f := strings.Fields(line)
	mode, limit := f[0], -1
	flags := map[string]bool{}
	for _, x := range f[1:] {
		if v, err := strconv.Atoi(x); err == nil {
			limit = v
		} else {
			flags[x] = true
		}
	}
	if flags["ignore-term"] {
		signal.Ignore(syscall.SIGTERM)
	}
	if flags["fork"] {
		helper := exec.Command("sleep", "600")
		if err := helper.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "fake rpicam-vid:", err)
			return 1
		}
		appendLine(filepath.Join(dir, "helpers"), strconv.Itoa(helper.Process.Pid))
	}
	fmt.Fprintf(os.Stderr, "fake rpicam-vid %d: %s %dx%d at %g fps\n", n, line, w, h, fps)
	if flags["flood"] {
		for i := 0; i < 500; i++ {
			fmt.Fprintf(os.Stderr, "fake rpicam-vid: noise line %d\n", i)
		}
	}

	stride := Stride(w)
	chroma := make([]byte, YUV420Size(w, h)-stride*h)
	for i := range chroma {
		chroma[i] = 128
	}
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	period := time.Duration(float64(time.Second) / fps)
	if flags["fast"] {
		// One frame drawn once, written as fast as the reader takes it.
		y := renderY(fakeFrameText(n, 1), n, 1, w, h, stride)
		for {
			out.Write(y)
			out.Write(chroma)
		}
	}
	for k := 1; ; k++ {
		if limit >= 0 && k > limit {
			switch mode {
			case "crash":
				y := renderY(fakeFrameText(n, k), n, k, w, h, stride)
				out.Write(y[:len(y)/2])
				out.Flush()
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			case "stall":
				// Alive and silent. Not select{}: with no other goroutine
				// the runtime would end the process as deadlocked.
				for {
					time.Sleep(time.Hour)
				}
			case "exit":
				return 0
			}
		}
		out.Write(renderY(fakeFrameText(n, k), n, k, w, h, stride))
		out.Write(chroma)
		if err := out.Flush(); err != nil {
			return 1
		}
		time.Sleep(period)
	}
}

func readLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func appendLine(path, line string) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		panic(err)
	}
	fmt.Fprintln(f, line)
	f.Close()
}
