package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"checkpoint"
)

// FuzzImportCSV feeds arbitrary bytes to the CSV import: it must never panic,
// every row it returns must be valid, and a failed import must leave the
// cache as it was.
func FuzzImportCSV(f *testing.F) {
	for _, s := range []string{
		"qid,status,valid_until\nA,green,2021-12-31\nB,red,\n",
		"A,yellow,2021-11-01T12:00:00+07:00\r\n",
		"A,green\n\n\nB,red,\n",
		"A,gre",
		"\"A\",green,\n",
		"",
		"qid,status\n",
	} {
		f.Add([]byte(s))
	}
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"), Options{SkipCheck: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { d.Close() })
	if _, err := d.ImportCSV(ctx, bytes.NewReader([]byte("sentinel,green,\n"))); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 1<<16 {
			return
		}
		cr := NewCSVReader(bytes.NewReader(in))
		rows := 0
		var rerr error
		for {
			r, err := cr.Next()
			if err != nil {
				if err != io.EOF {
					rerr = err
				}
				break
			}
			rows++
			if r.Key == "" || len(r.Key) > MaxKeyLen || r.Color > checkpoint.Green || r.ValidUntil < 0 {
				t.Fatalf("invalid row accepted: %+v", r)
			}
		}
		before, err := d.Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n, err := d.ImportCSV(ctx, bytes.NewReader(in))
		if (err == nil) != (rerr == nil) {
			t.Fatalf("reader error %v but import error %v", rerr, err)
		}
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) && !errors.Is(err, ErrEmpty) {
				t.Fatalf("error names no line: %v", err)
			}
			after, _ := d.Count(ctx)
			if after != before {
				t.Fatalf("failed import changed the cache: %+v → %+v", before, after)
			}
			return
		}
		if n != rows {
			t.Fatalf("imported %d rows, reader saw %d", n, rows)
		}
	})
}
