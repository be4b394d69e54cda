package inventory

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// csvRows reads inventory CSV: comma-separated fields, each in double
// quotes as AWS writes them ("" is a quote inside one), or bare. It is
// hand-written rather than encoding/csv because it runs once per row of
// reports of billions of rows: it hands out the fields as slices of its
// buffer, where encoding/csv makes a string of every record, and its
// cost per row is lower (docs/benchmarks/inventory.md). A row is one
// line: AWS URL-encodes keys, and no other field can hold a newline.
type csvRows struct {
	r      *bufio.Reader
	line   []byte   // the current row, when it spans reads or has escapes
	fields [][]byte // the current row's fields, valid until the next call
	want   int      // fields per row
}

func newCSVRows(r io.Reader, fields int) *csvRows {
	return &csvRows{r: bufio.NewReaderSize(r, 256<<10), fields: make([][]byte, 0, fields), want: fields}
}

var errQuote = errors.New(`a quoted field is followed by something other than a comma or the end of the row`)

// next reads one row; io.EOF after the last. Empty lines are no rows
// (AWS ends some reports with blank lines; encoding/csv skips them too).
func (c *csvRows) next() ([][]byte, error) {
	line, err := c.readLine()
	for err == nil && len(line) == 0 {
		line, err = c.readLine()
	}
	if err != nil {
		return nil, err
	}
	c.fields = c.fields[:0]
	for pos := 0; ; {
		if pos < len(line) && line[pos] == '"' {
			field, end, ok := unquote(line, pos+1)
			if !ok {
				return nil, errors.New("a quoted field does not end on its line (inventory rows are one line each)")
			}
			c.fields = append(c.fields, field)
			pos = end
		} else {
			end := bytes.IndexByte(line[pos:], ',')
			if end < 0 {
				end = len(line) - pos
			}
			c.fields = append(c.fields, line[pos:pos+end])
			pos += end
		}
		if pos == len(line) {
			break
		}
		if line[pos] != ',' {
			return nil, errQuote
		}
		pos++
		if pos == len(line) {
			c.fields = append(c.fields, line[pos:]) // a trailing empty field
			break
		}
	}
	if len(c.fields) != c.want {
		return nil, fmt.Errorf("the row has %d fields; the manifest's fileSchema names %d", len(c.fields), c.want)
	}
	return c.fields, nil
}

// unquote reads a quoted field starting after its opening quote at
// start: its content, unescaped in place, and where it ends; false when
// the line ends inside it.
func unquote(line []byte, start int) (field []byte, end int, ok bool) {
	w := start // where unescaped bytes go; the field shrinks in place
	for i := start; ; {
		j := bytes.IndexByte(line[i:], '"')
		if j < 0 {
			return nil, 0, false
		}
		copy(line[w:], line[i:i+j])
		w += j
		i += j + 1
		if i < len(line) && line[i] == '"' { // "" is a quote
			line[w] = '"'
			w++
			i++
			continue
		}
		return line[start:w], i, true
	}
}

// readLine returns the next line without its line ending.
func (c *csvRows) readLine() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		c.line = append(c.line[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = c.r.ReadSlice('\n')
			c.line = append(c.line, line...)
		}
		line = c.line
	}
	if err == io.EOF && len(line) > 0 {
		err = nil // a last row without a newline
	}
	if err != nil {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte{'\n'})
	// The in-place unescaping writes into the line: a slice of the
	// reader's buffer is ours until the next read.
	return bytes.TrimSuffix(line, []byte{'\r'}), nil
}
