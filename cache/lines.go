package cache

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// bom is the UTF-8 byte order mark Excel and LibreOffice put at the start
// of a CSV file saved as "UTF-8".
const bom = "\ufeff"

// LineReader reads the lines of a CSV file for the readers of statuses,
// revocations and site lists: a byte order mark at the start is dropped,
// line ends (\n or \r\n) trimmed, blank lines skipped, a line longer than
// 4096 bytes refused, and a last line without its newline refused, so a
// truncated file is never taken for a whole one.
type LineReader struct {
	br    *bufio.Reader
	line  int
	first bool // the line returned last is the file's first non-blank one
	seen  bool
}

// NewLineReader reads lines from r.
func NewLineReader(r io.Reader) *LineReader {
	return &LineReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// Line returns the number of the line read last (from 1).
func (l *LineReader) Line() int { return l.line }

// First reports whether the line read last is the first that is not blank:
// the one that may be a header.
func (l *LineReader) First() bool { return l.first }

// Next returns the next line that is not blank, io.EOF after the last one,
// or a *LineError.
func (l *LineReader) Next() (string, error) {
	for {
		raw, err := l.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(raw) > maxLine {
			return "", &LineError{l.line + 1, fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		if err == io.EOF {
			if len(raw) > 0 {
				return "", &LineError{l.line + 1, "last line does not end in a newline: the file looks truncated"}
			}
			return "", io.EOF
		}
		if err != nil {
			return "", fmt.Errorf("line %d: %w", l.line+1, err)
		}
		l.line++
		b := bytes.TrimRight(raw, "\r\n")
		if l.line == 1 {
			b = bytes.TrimPrefix(b, []byte(bom))
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		l.first = !l.seen
		l.seen = true
		return string(b), nil
	}
}

// HeaderError reports a first line that failed to parse as a header when it
// looks like one (two or more fields, or a separator other than a comma, and
// no digit anywhere, where every key and date has some): its text and the
// header wanted. Otherwise it returns err as it is.
func HeaderError(n int, line, want string, err error) error {
	semi := strings.ContainsAny(line, ";\t")
	if strings.ContainsAny(line, "0123456789") || (!strings.Contains(line, ",") && !semi) {
		return err
	}
	msg := fmt.Sprintf("header %q not recognised: want %s", line, want)
	if semi {
		msg += " (fields separated by commas)"
	}
	return &LineError{Line: n, Msg: msg}
}
