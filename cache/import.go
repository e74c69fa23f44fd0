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

// Vietnam has one time zone without daylight saving: UTC+07:00.
var vietnam = time.FixedZone("ICT", 7*3600)

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
// out. A first line `qid,status,valid_until` is a header; a first line that
// looks like another header is reported as one. Lines are read by a
// LineReader (byte order mark, blank lines, truncation).
type CSVReader struct {
	lr   *LineReader
	rows int
}

// NewCSVReader reads rows from r.
func NewCSVReader(r io.Reader) *CSVReader {
	return &CSVReader{lr: NewLineReader(r)}
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
		if c.lr.First() && isHeader(l) {
			continue
		}
		r, err := parseRow(l)
		if err != nil {
			err = &LineError{c.lr.Line(), err.Error()}
			if c.lr.First() && !hasColour(l) {
				err = HeaderError(c.lr.Line(), l, statusHeader, err)
			}
			return Row{}, err
		}
		c.rows++
		return r, nil
	}
}

func isHeader(l string) bool {
	f := strings.Split(strings.ToLower(l), ",")
	return strings.TrimSpace(f[0]) == "qid" && len(f) > 1 && strings.TrimSpace(f[1]) == "status"
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

func parseRow(l string) (Row, error) {
	if strings.ContainsRune(l, '"') {
		return Row{}, errors.New("quotes are not allowed")
	}
	f := strings.Split(l, ",")
	if len(f) < 2 || len(f) > 3 {
		return Row{}, fmt.Errorf("%d fields, want qid,status,valid_until", len(f))
	}
	var r Row
	r.Key = strings.TrimSpace(f[0])
	if err := CheckKey(r.Key); err != nil {
		return Row{}, err
	}
	c, err := checkpoint.ParseColor(strings.ToLower(strings.TrimSpace(f[1])))
	if err != nil {
		return Row{}, fmt.Errorf("status: %v", err)
	}
	r.Color = c
	if len(f) == 3 {
		u, err := ParseValidUntil(strings.TrimSpace(f[2]))
		if err != nil {
			return Row{}, err
		}
		r.ValidUntil = u
	}
	return r, nil
}

// CheckKey checks a credential key (QID, ID number) read from a file: not
// empty, at most MaxKeyLen bytes, no control character.
func CheckKey(k string) error {
	switch {
	case k == "":
		return errors.New("empty qid")
	case len(k) > MaxKeyLen:
		return fmt.Errorf("qid longer than %d bytes", MaxKeyLen)
	}
	for _, b := range []byte(k) {
		if b < 0x20 || b == 0x7f {
			return errors.New("control character in qid")
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
		d, err := time.ParseInLocation("2006-01-02", s, vietnam)
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
