package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"checkpoint"
)

// MaxKeyLen caps a credential key (QID, document number) in an import.
const MaxKeyLen = 256

// maxLine caps one CSV line.
const maxLine = 4096

// ErrEmpty is returned for an input without a single row.
var ErrEmpty = errors.New("no rows")

// Vietnam is the zone of the dates in status files and of the operator
// screen's day: Vietnam has one time zone without daylight saving, UTC+07:00.
var Vietnam = time.FixedZone("ICT", 7*3600)

// LineError is a bad row in an input file.
type LineError struct {
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Row is one parsed status row with its key still in clear.
type Row struct {
	Key        string
	Color      checkpoint.Color
	ValidUntil int64 // unix seconds; 0: no end
}

// CSVReader reads `qid,status,valid_until` rows: status is green, yellow or
// red; valid_until is RFC 3339, a date YYYY-MM-DD (valid through that day,
// Vietnam time, UTC+07:00), or empty for no end, and the column may be left
// out. A first line naming the columns is a header: `qid,status,valid_until`,
// or the same columns in another order with a `code` column beside or
// instead of `qid` (codes given by text message or on a printed card, typed
// at the gate). A row then keys its status by its qid or by its code, one
// of them; a code is stored under checkpoint.CodeKey. A first line that
// looks like another header is reported as one. Lines are read by a
// LineReader (byte order mark, blank lines, truncation).
type CSVReader struct {
	lr   *LineReader
	rows int
	cols columns
}

// columns are the positions of a status file's columns (-1: absent).
type columns struct{ qid, code, status, until, n int }

// legacyColumns are those of a file without a header.
var legacyColumns = columns{qid: 0, code: -1, status: 1, until: 2, n: 3}

// NewCSVReader reads rows from r.
func NewCSVReader(r io.Reader) *CSVReader {
	return &CSVReader{lr: NewLineReader(r), cols: legacyColumns}
}

// Line returns the number of the line read last.
func (c *CSVReader) Line() int { return c.lr.Line() }

// statusHeader is the header a status file may start with.
const statusHeader = "qid,status,valid_until"

// Next returns the next row, io.EOF after the last one, ErrEmpty when the
// input held no row, or a *LineError.
func (c *CSVReader) Next() (Row, error) {
	for {
		l, err := c.lr.Next()
		if err == io.EOF && c.rows == 0 {
			return Row{}, ErrEmpty
		}
		if err != nil {
			return Row{}, err
		}
		first := c.lr.First()
		if first {
			cols, isHeader, err := header(l)
			if err != nil {
				return Row{}, &LineError{c.lr.Line(), err.Error()}
			}
			c.cols = cols
			if isHeader {
				continue
			}
		}
		r, err := c.cols.parseRow(l)
		if err != nil {
			err = &LineError{c.lr.Line(), err.Error()}
			if first && !hasColour(l) {
				err = HeaderError(c.lr.Line(), l, statusHeader, err)
			}
			return Row{}, err
		}
		c.rows++
		return r, nil
	}
}

// hasColour reports whether the line's second field is a status colour: a
// row then, not a header, whatever else is wrong with it.
func hasColour(l string) bool {
	f := strings.Split(l, ",")
	if len(f) < 2 {
		return false
	}
	_, err := checkpoint.ParseColor(strings.ToLower(strings.TrimSpace(f[1])))
	return err == nil
}

// header reads a first line: the columns it names when it is a header,
// else the legacy columns.
func header(l string) (columns, bool, error) {
	f := strings.Split(strings.ToLower(l), ",")
	cols := columns{qid: -1, code: -1, status: -1, until: -1, n: len(f)}
	for i, name := range f {
		var p *int
		switch strings.TrimSpace(name) {
		case "qid":
			p = &cols.qid
		case "code":
			p = &cols.code
		case "status":
			p = &cols.status
		case "valid_until":
			p = &cols.until
		default:
			if i == 0 {
				return legacyColumns, false, nil // a row, not a header
			}
			return cols, true, fmt.Errorf("header: unknown column %q (columns are qid, code, status, valid_until)", strings.TrimSpace(name))
		}
		if *p >= 0 {
			return cols, true, fmt.Errorf("header: column %q twice", strings.TrimSpace(name))
		}
		*p = i
	}
	if cols.status < 0 || (cols.qid < 0 && cols.code < 0) {
		return cols, true, errors.New("header: needs a status column and a qid or code column")
	}
	return cols, true, nil
}

func (cols columns) parseRow(l string) (Row, error) {
	if strings.ContainsRune(l, '"') {
		return Row{}, errors.New("quotes are not allowed")
	}
	f := strings.Split(l, ",")
	// Trailing columns the row leaves out are empty (valid_until, mostly).
	need := max(cols.qid, cols.code, cols.status) + 1
	if len(f) < need || len(f) > cols.n {
		if cols == legacyColumns {
			return Row{}, fmt.Errorf("%d fields, want qid,status,valid_until", len(f))
		}
		return Row{}, fmt.Errorf("%d fields, the header names %d", len(f), cols.n)
	}
	for len(f) < cols.n {
		f = append(f, "")
	}
	field := func(i int) string {
		if i < 0 {
			return ""
		}
		return strings.TrimSpace(f[i])
	}
	var r Row
	qid, code := field(cols.qid), field(cols.code)
	switch {
	case qid != "" && code != "":
		return Row{}, errors.New("both a qid and a code: give each its own row")
	case code != "":
		digits, err := checkpoint.ParseCode(code)
		if err != nil {
			return Row{}, fmt.Errorf("code: %v", err)
		}
		r.Key = checkpoint.CodeKey(digits)
	case cols.qid < 0:
		return Row{}, errors.New("empty code")
	default:
		if err := checkKey("qid", qid); err != nil {
			return Row{}, err
		}
		r.Key = qid
	}
	c, err := checkpoint.ParseColor(strings.ToLower(field(cols.status)))
	if err != nil {
		return Row{}, fmt.Errorf("status: %v", err)
	}
	r.Color = c
	if r.ValidUntil, err = ParseValidUntil(field(cols.until)); err != nil {
		return Row{}, err
	}
	return r, nil
}

// CheckKey checks a credential key (QID, ID number) read from a file: not
// empty, at most MaxKeyLen bytes, no control character.
func CheckKey(k string) error { return checkKey("qid", k) }

// checkKey checks a qid or code field.
func checkKey(name, k string) error {
	switch {
	case k == "":
		return fmt.Errorf("empty %s", name)
	case len(k) > MaxKeyLen:
		return fmt.Errorf("%s longer than %d bytes", name, MaxKeyLen)
	}
	for _, b := range []byte(k) {
		if b < 0x20 || b == 0x7f {
			return fmt.Errorf("control character in %s", name)
		}
	}
	return nil
}

// ParseValidUntil parses a valid_until field to unix seconds: RFC 3339, a date
// YYYY-MM-DD (valid through that day in Vietnam, UTC+07:00), or empty (0, no
// end).
func ParseValidUntil(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	var t time.Time
	if len(s) == len("2006-01-02") {
		d, err := time.ParseInLocation("2006-01-02", s, Vietnam)
		if err != nil {
			return 0, fmt.Errorf("valid_until %q is not a date YYYY-MM-DD", s)
		}
		t = d.AddDate(0, 0, 1)
	} else {
		var err error
		t, err = time.Parse(time.RFC3339, s)
		if err != nil {
			return 0, fmt.Errorf("valid_until %q is not RFC 3339 (2021-12-31T23:59:59+07:00) or YYYY-MM-DD", s)
		}
	}
	if t.Year() < 2000 || t.Year() > 9999 {
		return 0, fmt.Errorf("valid_until %q is out of range", s)
	}
	return t.Unix(), nil
}

// ImportCSV loads `qid,status,valid_until` rows (see CSVReader) in one
// transaction, hashing each QID under the cache's key; a row already present
// is replaced. On any bad row nothing is imported and the error names the
// line. It returns the number of rows imported.
func (d *DB) ImportCSV(ctx context.Context, r io.Reader) (int, error) {
	cr := NewCSVReader(r)
	u, err := d.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer u.Rollback()
	key := d.key.Load()
	n := 0
	batch := make([]Record, 0, 16*batchRows)
	for {
		row, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("import CSV: %w", err)
		}
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, fmt.Errorf("import CSV: %w", err)
			}
		}
		batch = append(batch, Record{Hash: key.sum(row.Key), Color: row.Color, ValidUntil: row.ValidUntil})
		if len(batch) == cap(batch) {
			if err := u.Put(batch...); err != nil {
				return 0, fmt.Errorf("import CSV: %w", err)
			}
			batch = batch[:0]
		}
		n++
	}
	if err := u.Put(batch...); err != nil {
		return 0, fmt.Errorf("import CSV: %w", err)
	}
	if err := u.Commit(); err != nil {
		return 0, fmt.Errorf("import CSV: %w", err)
	}
	// The rows are in and visible; a failed merge only leaves them in the
	// delta table until the next one.
	if _, err := d.MergeDeltas(ctx, false); err != nil && ctx.Err() == nil {
		d.log.Warn("cache merge after import failed", "err", err)
	}
	return n, nil
}
