// Command decodebench measures the decoder on the generated corpus and on
// zxing's blackbox images, and runs the same frames through zxing-cpp and
// zbar (the zxbench harness) in the same run: success per category, time per
// frame (median and p99 of each frame's median over several runs, in CPU
// time of the decoding thread, so that other load on a shared machine counts
// less) and
// allocations per frame, with our time as a ratio of each library's.
//
// With -wasm, zxing-wasm (zxing-cpp 3.x compiled to WebAssembly, run by
// node: bench/zxwasm) reads the same frames too; its times are
// WebAssembly's, reported apart. The gate categories (decode/corpus
// GateCategories) are counted by codes read besides frames read, and
// rendered at a 12 MP size as well (-n12 frames each).
//
// Usage: decodebench [-n 10] [-n12 3] [-sizes 640x480,1280x720,4000x3000] [-seed 1] [-r 5] [-harness bin/zxbench] [-wasm 'node bench/zxwasm/zxwasm.mjs'] [-update BENCHMARKS.md]
package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"image"
	_ "image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"checkpoint"
	"checkpoint/decode"
	"checkpoint/decode/corpus"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "decodebench:", err)
		os.Exit(1)
	}
}

// frame is one benchmark input.
type frame struct {
	group string // table row: category and size, or blackbox folder and rotation
	name  string
	f     *checkpoint.Frame
	want  []string // all must be found; none: nothing may be found
	file  string   // the PGM written for the harness
}

// outcome is one engine's result on one frame.
type outcome struct {
	ms     float64
	allocs float64
	texts  []string
}

const ours = "checkpoint"

const wasmEngine = "zxing-wasm"

var engines = []string{ours, "zxing-cpp", "zbar", wasmEngine}

func run() error {
	n := flag.Int("n", 10, "frames per generated category and size")
	seed := flag.Uint64("seed", 1, "corpus seed")
	reps := flag.Int("r", 5, "runs per frame (the median is kept)")
	harness := flag.String("harness", "bin/zxbench", "zxing-cpp/zbar harness (empty: ours only)")
	wasm := flag.String("wasm", "", "zxing-wasm harness command (empty: none), e.g. 'node bench/zxwasm/zxwasm.mjs'")
	n12 := flag.Int("n12", 3, "frames per gate category at 4000x3000 (0: none)")
	testdata := flag.String("testdata", os.Getenv("CHECKPOINT_TESTDATA"), "shared test data (zxing-blackbox)")
	update := flag.String("update", "", "Markdown file whose decode section is replaced by the results")
	gobench := flag.String("gobench", "", "go test -bench output to include in the section")
	cats := flag.String("cat", "", "comma-separated categories (default all; 'blackbox' for zxing's images only)")
	sizes := flag.String("sizes", "640x480,1280x720,4000x3000", "comma-separated frame sizes of the generated corpus")
	flag.Parse()

	work, err := os.MkdirTemp("", "decodebench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	var frames []*frame
	var only []corpus.Category
	withBlackbox := true
	if *cats != "" {
		withBlackbox = false
		for _, c := range strings.Split(*cats, ",") {
			if c == "blackbox" {
				withBlackbox = true
				continue
			}
			only = append(only, corpus.Category(c))
		}
		if only == nil {
			only = []corpus.Category{}
		}
	}
	for _, sz := range [][3]int{{640, 480, *n}, {1280, 720, *n}, {4000, 3000, *n12}} {
		if (only != nil && len(only) == 0) || sz[2] == 0 || !slices.Contains(strings.Split(*sizes, ","), fmt.Sprintf("%dx%d", sz[0], sz[1])) {
			continue
		}
		cats := only
		switch {
		case cats == nil && sz[0] == 4000:
			cats = append([]corpus.Category{corpus.Clean, corpus.Empty}, corpus.GateCategories...)
		case cats == nil:
			cats = append(slices.Clone(corpus.Categories), corpus.GateCategories...)
		}
		cs, err := corpus.Generate(corpus.Options{Seed: *seed, Width: sz[0], Height: sz[1], PerCat: sz[2], Categories: cats})
		if err != nil {
			return err
		}
		for _, c := range cs {
			frames = append(frames, &frame{group: fmt.Sprintf("%s %dx%d", c.Category, sz[0], sz[1]), name: c.Name, f: c.Frame, want: c.Texts})
		}
	}
	if withBlackbox && *testdata != "" {
		bb, err := blackbox(filepath.Join(*testdata, "zxing-blackbox"))
		if err != nil {
			return err
		}
		frames = append(frames, bb...)
	}
	for i, fr := range frames {
		fr.file = filepath.Join(work, fmt.Sprintf("%05d.pgm", i))
		if err := writePGM(fr.file, fr.f); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "decodebench: %d frames, %d runs each\n", len(frames), *reps)

	res, err := measure(frames, *reps, *harness, *wasm)
	if err != nil {
		return err
	}
	md := report(frames, res)
	if *gobench != "" {
		b, err := os.ReadFile(*gobench)
		if err != nil {
			return err
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Benchmark") || strings.HasPrefix(l, "cpu:") {
				lines = append(lines, l)
			}
		}
		md += "\n`go test -bench 'Decode|Pipeline' -benchmem ./decode` (wall time per frame, same run):\n\n```\n" + strings.Join(lines, "\n") + "\n```\n"
	}
	fmt.Print(md)
	if *update != "" {
		return updateSection(*update, md, len(frames), *reps)
	}
	return nil
}

// measure decodes each frame reps times with our decoder and then, when a
// harness is given, with zxing-cpp and zbar, frame by frame, so that all
// three meet the same load on a shared machine. Our decoder is reset
// before each run (no region of interest, no remembered static regions):
// corpus frames are unrelated, and each run is the first sight of a frame.
func measure(frames []*frame, reps int, harness, wasm string) (map[string][]outcome, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	res := map[string][]outcome{ours: make([]outcome, len(frames))}
	var hs []*harnessProc
	if harness != "" {
		h, err := startHarness([]string{harness}, reps, 2)
		if err != nil {
			return nil, err
		}
		defer h.close()
		hs = append(hs, h)
		res["zxing-cpp"], res["zbar"] = make([]outcome, len(frames)), make([]outcome, len(frames))
	}
	if wasm != "" {
		h, err := startHarness(strings.Fields(wasm), reps, 1)
		if err != nil {
			return nil, err
		}
		defer h.close()
		hs = append(hs, h)
		res[wasmEngine] = make([]outcome, len(frames))
	}
	d := decode.New(decode.Options{})
	ctx := context.Background()
	// Warm up: the first calls allocate the scratch buffers.
	for _, fr := range frames[:min(len(frames), 4)] {
		d.Decode(ctx, fr.f)
	}
	var ms0, ms1 runtime.MemStats
	for i, fr := range frames {
		t := make([]float64, reps)
		var syms []checkpoint.Symbol
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		for r := 0; r < reps; r++ {
			d.Reset() // each run as the first sight of the frame
			t0 := threadCPU()
			syms, _ = d.Decode(ctx, fr.f)
			t[r] = float64(threadCPU()-t0) / 1e6
		}
		runtime.ReadMemStats(&ms1)
		o := outcome{ms: median(t), allocs: float64(ms1.Mallocs-ms0.Mallocs) / float64(reps)}
		for _, s := range syms {
			o.texts = append(o.texts, s.Text)
		}
		res[ours][i] = o
		for _, h := range hs {
			other, err := h.decode(fr.file)
			if err != nil {
				return nil, err
			}
			for e, o := range other {
				res[e][i] = o
			}
		}
	}
	return res, nil
}

// harnessProc is a running harness (zxbench, zxwasm), fed one file at a
// time, answering with one line for each of its engines.
type harnessProc struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *bufio.Scanner
	engines int
}

func startHarness(argv []string, reps, engines int) (*harnessProc, error) {
	path := argv[0]
	cmd := exec.Command(path, append(argv[1:], "-r", fmt.Sprint(reps))...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	return &harnessProc{cmd: cmd, in: in, out: sc, engines: engines}, nil
}

// decode has the harness decode one PGM file with each of its engines.
func (h *harnessProc) decode(file string) (map[string]outcome, error) {
	if _, err := fmt.Fprintln(h.in, file); err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	out := map[string]outcome{}
	for len(out) < h.engines {
		if !h.out.Scan() {
			return nil, fmt.Errorf("harness ended early: %v", h.out.Err())
		}
		fs := strings.Split(h.out.Text(), "\t")
		if len(fs) < 4 || fs[0] != file {
			return nil, fmt.Errorf("harness: bad line %q", h.out.Text())
		}
		var o outcome
		fmt.Sscan(fs[2], &o.ms)
		for _, x := range fs[4:] {
			b, err := hex.DecodeString(x)
			if err != nil {
				return nil, fmt.Errorf("harness: bad text %q", x)
			}
			o.texts = append(o.texts, string(b))
		}
		out[fs[1]] = o
	}
	return out, nil
}

func (h *harnessProc) close() {
	h.in.Close()
	h.cmd.Wait()
}

// ok reports whether an engine found every wanted text (for a frame without
// codes: found nothing).
func ok(fr *frame, o outcome) bool {
	if len(fr.want) == 0 {
		return len(o.texts) == 0
	}
	for _, w := range fr.want {
		if !slices.Contains(o.texts, w) {
			return false
		}
	}
	return true
}

type stats struct {
	n, ok         int
	codes, wanted int // codes read of those drawn
	med, p99      float64
	allocs        float64
}

func summarize(frames []*frame, res []outcome, pick func(*frame) bool) stats {
	var s stats
	var t []float64
	for i, fr := range frames {
		if !pick(fr) || res == nil {
			continue
		}
		s.n++
		if ok(fr, res[i]) {
			s.ok++
		}
		s.wanted += len(fr.want)
		for _, w := range fr.want {
			if slices.Contains(res[i].texts, w) {
				s.codes++
			}
		}
		t = append(t, res[i].ms)
		s.allocs += res[i].allocs
	}
	if s.n > 0 {
		sort.Float64s(t)
		s.med = median(t)
		s.p99 = t[min(len(t)-1, int(float64(len(t))*0.99))]
		s.allocs /= float64(s.n)
	}
	return s
}

func report(frames []*frame, res map[string][]outcome) string {
	var groups []string
	seen := map[string]bool{}
	for _, fr := range frames {
		if !seen[fr.group] {
			seen[fr.group] = true
			groups = append(groups, fr.group)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| frames | n | ok: ours | zxing-cpp | zbar | zxing-wasm | ms median (p99): ours | zxing-cpp | zbar | ours/zxing-cpp | ours/zbar | allocs/frame | zxing-wasm ms (WebAssembly) |\n")
	fmt.Fprintf(&b, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	row := func(label string, pick func(*frame) bool) {
		var st [4]stats
		for i, e := range engines {
			st[i] = summarize(frames, res[e], pick)
		}
		if st[0].n == 0 {
			return
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %.2f (%.2f) | %s | %s | %s | %s | %.0f | %s |\n", label, st[0].n,
			okCell(st[0]), okCell(st[1]), okCell(st[2]), okCell(st[3]), st[0].med, st[0].p99, msCell(st[1]), msCell(st[2]),
			ratio(st[0].med, st[1].med), ratio(st[0].med, st[2].med), st[0].allocs, msCell(st[3]))
	}
	for _, g := range groups {
		row(g, func(fr *frame) bool { return fr.group == g })
	}
	for _, sz := range []string{"640x480", "1280x720", "4000x3000"} {
		row("**all with a code "+sz+"**", func(fr *frame) bool {
			return strings.HasSuffix(fr.group, " "+sz) && len(fr.want) > 0
		})
		row("**empty "+sz+"**", func(fr *frame) bool {
			return strings.HasSuffix(fr.group, " "+sz) && len(fr.want) == 0
		})
	}
	row("**blackbox, all rotations**", func(fr *frame) bool { return strings.HasPrefix(fr.group, "blackbox") })
	return b.String()
}

// okCell is the frames read, and for rows of several codes a frame the
// codes read of those drawn.
func okCell(s stats) string {
	if s.n == 0 {
		return "–"
	}
	if s.wanted > s.n {
		return fmt.Sprintf("%d (%d/%d codes)", s.ok, s.codes, s.wanted)
	}
	return fmt.Sprint(s.ok)
}

func msCell(s stats) string {
	if s.n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f (%.2f)", s.med, s.p99)
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// threadCPU is the calling thread's CPU time in nanoseconds
// (CLOCK_THREAD_CPUTIME_ID), as the harness measures zxing-cpp and zbar.
func threadCPU() int64 {
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

func median(t []float64) float64 {
	s := slices.Clone(t)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// blackbox loads zxing's QR blackbox images at 0, 90, 180 and 270 degrees.
func blackbox(root string) ([]*frame, error) {
	var out []*frame
	dirs, err := filepath.Glob(filepath.Join(root, "qrcode-*"))
	if err != nil || len(dirs) == 0 {
		return nil, fmt.Errorf("no blackbox folders in %s", root)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		imgs, _ := filepath.Glob(filepath.Join(dir, "*.png"))
		sort.Strings(imgs)
		for _, p := range imgs {
			want, err := os.ReadFile(strings.TrimSuffix(p, ".png") + ".txt")
			if err != nil {
				return nil, err
			}
			f, err := load(p)
			if err != nil {
				return nil, err
			}
			for _, deg := range []int{0, 90, 180, 270} {
				out = append(out, &frame{
					group: fmt.Sprintf("blackbox %s %d°", filepath.Base(dir), deg),
					name:  fmt.Sprintf("%s@%d", p, deg),
					f:     corpus.Rotate(f, deg),
					want:  []string{string(want)},
				})
			}
		}
	}
	return out, nil
}

func load(path string) (*checkpoint.Frame, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	img, _, err := image.Decode(fh)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return checkpoint.FrameFromImage(img), nil
}

func writePGM(path string, f *checkpoint.Frame) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(fh)
	fmt.Fprintf(w, "P5\n%d %d\n255\n", f.Width, f.Height)
	for y := 0; y < f.Height; y++ {
		w.Write(f.Y[y*f.Stride : y*f.Stride+f.Width])
	}
	if err := w.Flush(); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// updateSection replaces the text between the decode markers in a Markdown
// file with md, after a line saying when and where it was measured.
func updateSection(path, md string, frames, reps int) error {
	const begin, end = "<!-- decode-results:begin -->", "<!-- decode-results:end -->"
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %s … %s markers", path, begin, end)
	}
	stamp := fmt.Sprintf("\nGenerated by `make bench-decode` on %s: %s, %d CPUs (%s/%s, %s), %d frames, %d runs each.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH,
		runtime.Version(), frames, reps)
	s = s[:i+len(begin)] + stamp + md + "\n" + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}

// cpuModel is the first "model name" of /proc/cpuinfo, or "unknown CPU".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
