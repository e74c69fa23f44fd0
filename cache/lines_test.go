package cache

import (
	"context"
	"io"
	"strings"
	"testing"
)

func TestLineReader(t *testing.T) {
	in := "\ufeffa,b\r\n\r\n  \nc\n\ufeffd\n"
	lr := NewLineReader(strings.NewReader(in))
	var got []string
	var firsts []bool
	for {
		l, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, l)
		firsts = append(firsts, lr.First())
	}
	// Only the file's first line loses its byte order mark.
	if strings.Join(got, "|") != "a,b|c|\ufeffd" {
		t.Errorf("lines %q", got)
	}
	if firsts[0] != true || firsts[1] || firsts[2] {
		t.Errorf("First() = %v", firsts)
	}
	if lr.Line() != 5 {
		t.Errorf("Line() = %d, want 5", lr.Line())
	}
}

// TestImportSpreadsheetCSV: files saved as "CSV UTF-8" by Excel or
// LibreOffice start with a byte order mark, and a header the reader does not
// know is reported as a header, not as a bad status.
func TestImportSpreadsheetCSV(t *testing.T) {
	ctx := context.Background()
	d := newTestDB(t, Options{})
	for _, csv := range []string{
		"\ufeffqid,status,valid_until\r\nQ1,green,\r\nQ2,red,2099-01-01\r\n",
		"\ufeffQ1,green,\nQ2,red,\n",
		"\ufeffQID,Status\nQ1,green\nQ2,red\n",
	} {
		if n, err := d.ImportCSV(ctx, strings.NewReader(csv)); err != nil || n != 2 {
			t.Errorf("ImportCSV(%q) = %d, %v; want 2 rows", csv, n, err)
		}
	}
	for _, tt := range []struct{ csv, want string }{
		{"\ufeffma_qr,trang_thai\nQ1,green\n", `line 1: header "ma_qr,trang_thai" not recognised: want qid,status,valid_until`},
		{"qid;status;valid_until\nQ1;green;\n", `line 1: header "qid;status;valid_until" not recognised: want qid,status,valid_until (fields separated by commas)`},
		{"Mã QR,Trạng thái,Hạn\nQ1,green,\n", `line 1: header "Mã QR,Trạng thái,Hạn" not recognised`},
		// A first line that is a row stays a row with a bad field.
		{"Q1,purple,\n", `line 1: status`},
		{"Q1,green,someday\n", `line 1: valid_until`},
		{"C,blue\n", `line 1: header "C,blue" not recognised`},
	} {
		_, err := d.ImportCSV(ctx, strings.NewReader(tt.csv))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ImportCSV(%q) = %v, want %q", tt.csv, err, tt.want)
		}
	}
}
