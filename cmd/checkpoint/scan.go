package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"checkpoint"
	"checkpoint/camera"
	"checkpoint/credential"
	"checkpoint/decode"
	"checkpoint/policy"
)

// maxPayloadLine caps one payload line read with --text.
const maxPayloadLine = 64 << 10

// scanResult is one line of `scan --json`. Other tools rely on these fields.
type scanResult struct {
	File  string     `json:"file"`
	MS    float64    `json:"ms"`
	Codes []scanCode `json:"codes"`
	Error string     `json:"error,omitempty"`
}

// scanCode is one decoded code in a scanResult.
type scanCode struct {
	Text      string   `json:"text"`
	Format    string   `json:"format"`
	Verdict   string   `json:"verdict"`
	Reasons   []string `json:"reasons"`
	Signature string   `json:"signature,omitempty"` // HC1: valid, invalid, unknown-signer, signer-not-allowed
	Expired   *bool    `json:"expired,omitempty"`   // HC1: outside iat..exp at the verification time
}

const scanUsage = "scan [--json] [--text] [--at RFC3339] [--config FILE] [--trust-cert FILE] [--rules FILE] PATH..."

func cmdScan(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "scan", scanUsage)
	asJSON := fs.Bool("json", false, "print one JSON object a line")
	asText := fs.Bool("text", false, "read PATHs as payload text files ('-': standard input, one payload a line)")
	at := fs.String("at", "", "judge at this time (RFC3339) instead of now")
	cfgPath := fs.String("config", "", "config file: judge against its cache and rules")
	trust := fs.String("trust-cert", "", "trusted HC1 signer certificates (DER or PEM), for offline use")
	rules := fs.String("rules", "", "HC1 rule profile file (JSON), for offline use")
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitStatus(exitUsage)
	}
	clock := checkpoint.Clock(checkpoint.SystemClock{})
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return usageErrorf("--at %q is not an RFC3339 time such as 2021-10-01T08:00:00+07:00", *at)
		}
		clock = fixedClock(t)
	}
	j, closeFn, err := newScanJudge(ctx, *cfgPath, *trust, *rules, clock)
	if err != nil {
		return err
	}
	defer closeFn()

	out := bufio.NewWriter(e.stdout)
	defer out.Flush()
	emit := func(r scanResult) {
		if *asJSON {
			b, _ := json.Marshal(r)
			out.Write(escapeFormat(b))
			out.WriteByte('\n')
		} else {
			printScan(out, r)
		}
		out.Flush()
	}
	failed := false
	if *asText {
		for _, p := range fs.Args() {
			if !scanTextPath(ctx, e, j, p, emit) {
				failed = true
			}
		}
	} else {
		dec := decode.New(decode.Options{})
		for _, p := range fs.Args() {
			files, err := camera.ListImages([]string{p})
			if err != nil {
				emit(scanResult{File: p, Codes: []scanCode{}, Error: err.Error()})
				failed = true
				continue
			}
			for _, f := range files {
				if ctx.Err() != nil {
					return exitStatus(exitFail)
				}
				r := scanImage(ctx, dec, j, f)
				if r.Error != "" {
					failed = true
				}
				emit(r)
			}
		}
	}
	if failed {
		return exitStatus(exitFail) // each failed input has its line
	}
	return nil
}

// escapeFormat writes the Unicode format characters (category Cf, such as
// U+202E, which shows the rest of a terminal's line reversed) in JSON text b
// as \u escapes: the decoded strings stay byte for byte the same. Go's JSON
// encoder emits such characters only inside strings, where escapes are valid.
func escapeFormat(b []byte) []byte {
	if !bytes.ContainsFunc(b, func(r rune) bool { return unicode.Is(unicode.Cf, r) }) {
		return b
	}
	out := make([]byte, 0, len(b)+32)
	for _, r := range string(b) {
		if !unicode.Is(unicode.Cf, r) {
			out = utf8.AppendRune(out, r)
			continue
		}
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		} else {
			out = fmt.Appendf(out, `\u%04x`, r)
		}
	}
	return out
}

// scanJudge parses and judges payloads for scan.
type scanJudge struct {
	parser *credential.Parser
	judge  *policy.Judge
	clock  checkpoint.Clock
}

func (j *scanJudge) code(ctx context.Context, text string) scanCode {
	c := j.parser.Parse(text)
	v := j.judge.Judge(ctx, c, j.clock.Now())
	sc := scanCode{
		Text:    text,
		Format:  string(v.Format),
		Verdict: v.Color.String(),
		Reasons: v.Reasons,
	}
	if sc.Format == "" {
		sc.Format = string(checkpoint.FormatUnknown)
	}
	if sc.Reasons == nil {
		sc.Reasons = []string{}
	}
	if c.Format == checkpoint.FormatHC1 {
		sc.Signature = v.Signature.String()
		expired := v.Expired
		sc.Expired = &expired
	}
	return sc
}

// scanImage decodes and judges every code in one image file.
func scanImage(ctx context.Context, dec *decode.Decoder, j *scanJudge, path string) scanResult {
	r := scanResult{File: path, Codes: []scanCode{}}
	f, err := camera.LoadFile(path)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	t0 := time.Now()
	syms, err := dec.Decode(ctx, f)
	r.MS = float64(time.Since(t0).Microseconds()) / 1000
	if err != nil {
		r.Error = fmt.Sprintf("decode %s: %v", path, err)
		return r
	}
	for _, s := range syms {
		r.Codes = append(r.Codes, j.code(ctx, s.Text))
	}
	return r
}

// scanTextPath judges the payload in a text file, or one payload a line from
// standard input for "-". It reports whether the input could be read.
func scanTextPath(ctx context.Context, e *env, j *scanJudge, path string, emit func(scanResult)) bool {
	if path == "-" {
		return scanLines(ctx, bufio.NewReaderSize(e.stdin, 64<<10), j, emit)
	}
	b, err := readCapped(path, maxPayloadLine)
	if err != nil {
		emit(scanResult{File: path, Codes: []scanCode{}, Error: err.Error()})
		return false
	}
	t0 := time.Now()
	c := j.code(ctx, strings.TrimRight(string(b), "\r\n"))
	emit(scanResult{File: path, MS: float64(time.Since(t0).Microseconds()) / 1000, Codes: []scanCode{c}})
	return true
}

// scanLines judges one payload a line. A line longer than maxPayloadLine
// gets an error of its own and the lines after it are judged. It reports
// whether every line could be read.
func scanLines(ctx context.Context, r *bufio.Reader, j *scanJudge, emit func(scanResult)) bool {
	ok := true
	for n := 1; ctx.Err() == nil; n++ {
		line, long, err := readLine(r, maxPayloadLine)
		name := fmt.Sprintf("-:%d", n)
		switch {
		case long:
			emit(scanResult{File: name, Codes: []scanCode{}, Error: fmt.Sprintf("line longer than %d bytes: not a payload", maxPayloadLine)})
			ok = false
		case len(line) > 0:
			t0 := time.Now()
			c := j.code(ctx, line)
			emit(scanResult{File: name, MS: float64(time.Since(t0).Microseconds()) / 1000, Codes: []scanCode{c}})
		}
		if err == io.EOF {
			return ok
		}
		if err != nil {
			emit(scanResult{File: name, Codes: []scanCode{}, Error: fmt.Sprintf("read standard input: %v", err)})
			return false
		}
	}
	return false
}

// readLine reads one line (without its \r\n) of at most max bytes; a
// longer line is read to its end and dropped (long is true). err is io.EOF
// after the last line.
func readLine(r *bufio.Reader, max int) (line string, long bool, err error) {
	var b []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(b)+len(frag) > max+2 {
			long, b = true, nil
		} else if !long {
			b = append(b, frag...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return strings.TrimRight(string(b), "\r\n"), long, err
	}
}

// readCapped reads a whole file of at most max bytes.
func readCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("read %s: larger than %d bytes", path, max)
	}
	return b, nil
}

// printScan writes a result for people: one line a code.
func printScan(w io.Writer, r scanResult) {
	switch {
	case r.Error != "":
		fmt.Fprintf(w, "%s: error: %s\n", r.File, r.Error)
	case len(r.Codes) == 0:
		fmt.Fprintf(w, "%s: no code (%.1f ms)\n", r.File, r.MS)
	}
	for _, c := range r.Codes {
		sym := map[string]string{"green": "✓ GREEN", "yellow": "! YELLOW", "red": "✗ RED"}[c.Verdict]
		extra := ""
		if c.Signature != "" {
			extra = " signature " + c.Signature
		}
		fmt.Fprintf(w, "%s: %s %s%s: %s (%.1f ms)\n", r.File, sym, c.Format, extra, strings.Join(c.Reasons, "; "), r.MS)
	}
}

// fixedClock is a clock stopped at one time (scan --at).
type fixedClock time.Time

// Now returns the fixed time.
func (c fixedClock) Now() time.Time { return time.Time(c) }
