package credential

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"checkpoint"
	"checkpoint/decode"
)

// TestConformancePictureDecode checks EXPECTEDPICTUREDECODE of every
// dgc-testdata case through our own QR decoder: the case's inline 2DCODE
// image (else the standalone image the index links to) must decode to the
// case's PREFIX exactly when the case expects it to.
func TestConformancePictureDecode(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes about 520 images")
	}
	dir := testdataDir(t)
	var idx dgcIndex
	b, err := os.ReadFile(filepath.Join(dir, "derived", "dgc-cases.index.json"))
	if err != nil {
		t.Fatalf("index: %v", err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatalf("index: %v", err)
	}
	type job struct {
		path   string
		prefix string
		img    []byte // encoded image
		want   bool
	}
	var jobs []job
	var untestable []string
	for _, ic := range idx.Cases {
		b, err := os.ReadFile(filepath.Join(dir, ic.Case))
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Prefix   string         `json:"PREFIX"`
			Inline   string         `json:"2DCODE"`
			Inline2  string         `json:"_2DCODE"`
			Expected map[string]any `json:"EXPECTEDRESULTS"`
		}
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatalf("%s: %v", ic.Case, err)
		}
		want, ok := c.Expected["EXPECTEDPICTUREDECODE"].(bool)
		if !ok {
			continue
		}
		j := job{path: ic.Case, prefix: c.Prefix, want: want}
		inline := c.Inline
		if inline == "" {
			inline = c.Inline2
		}
		if inline != "" {
			j.img, _ = base64.StdEncoding.DecodeString(strings.TrimPrefix(inline, "data:image/png;base64,"))
		} else if len(ic.PNGFiles) > 0 {
			j.img, _ = os.ReadFile(filepath.Join(dir, ic.PNGFiles[0]))
		}
		if len(j.img) == 0 {
			// common/B1 expects true but carries neither 2DCODE nor an
			// image file: there is no picture to decode.
			untestable = append(untestable, ic.Case)
			continue
		}
		jobs = append(jobs, j)
	}

	dec := decode.New(decode.Options{})
	results := make([]string, len(jobs)) // "" agreed, else why not
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = pictureCase(dec, jobs[i].img, jobs[i].prefix, jobs[i].want)
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()

	agreed := 0
	var wrong []string
	for i, r := range results {
		if r == "" {
			agreed++
			continue
		}
		wrong = append(wrong, fmt.Sprintf("%s EXPECTEDPICTUREDECODE: expected %v: %s", jobs[i].path, jobs[i].want, r))
	}
	t.Logf("dgc-testdata conformance: EXPECTEDPICTUREDECODE %d/%d agreed (decode package); excluded, no image in the case: %s",
		agreed, len(jobs), strings.Join(untestable, ", "))
	sort.Strings(wrong)
	for _, w := range wrong {
		t.Errorf("disagreement: %s", w)
	}
	if len(untestable) > 1 {
		t.Errorf("%d cases without an image, want only common/B1", len(untestable))
	}
	if len(jobs) < 500 {
		t.Errorf("only %d cases expect a picture result", len(jobs))
	}
}

// pictureCase decodes one image and returns "" when the outcome agrees with
// want, else what happened.
func pictureCase(dec *decode.Decoder, img []byte, prefix string, want bool) string {
	got, why := false, "no image"
	if len(img) > 0 {
		m, _, err := image.Decode(bytes.NewReader(img))
		if err != nil {
			why = "image: " + err.Error()
		} else {
			syms, err := dec.Decode(context.Background(), checkpoint.FrameFromImage(m))
			why = fmt.Sprintf("%d codes decoded, none equal to PREFIX", len(syms))
			if err != nil {
				why = "decode: " + err.Error()
			}
			for _, s := range syms {
				if s.Text == prefix {
					got, why = true, "decoded to PREFIX"
				}
			}
		}
	}
	if got == want {
		return ""
	}
	return why
}
