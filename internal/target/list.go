package target

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// citizenLabColumns is the number of columns of a Citizen Lab test list.
const citizenLabColumns = 6

// ListReader reads targets from a Citizen Lab test-list CSV
// (url,category_code,category_description,date_added,source,notes; header
// optional) or from a file with one target per line, one record at a time.
// Blank lines and lines starting with '#' are skipped.
type ListReader struct {
	name    string
	cr      *csv.Reader
	started bool
	csvMode bool
	count   int
}

// NewListReader returns a reader of r; name is used in error messages.
func NewListReader(r io.Reader, name string) *ListReader {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	return &ListReader{name: name, cr: cr}
}

// Name returns the list's name as used in errors.
func (lr *ListReader) Name() string { return lr.name }

// ErrEmptyList is returned by Next when a list holds no target at all.
var ErrEmptyList = errors.New("list holds no target")

// Next returns the targets of the next record (two for a bare domain), or
// io.EOF at the end. A bad line gives an error naming file:line.
func (lr *ListReader) Next() ([]Target, error) {
	for {
		rec, err := lr.cr.Read()
		if err == io.EOF {
			if lr.count == 0 {
				return nil, fmt.Errorf("%s: %w", lr.name, ErrEmptyList)
			}
			return nil, io.EOF
		}
		line, _ := lr.cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%s:%d: %v", lr.name, pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("%s: %w", lr.name, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if !lr.started {
			lr.started = true
			rec[0] = strings.TrimPrefix(rec[0], "\ufeff") // a byte order mark
			lr.csvMode = len(rec) > 1
			if lr.csvMode && strings.EqualFold(strings.TrimSpace(rec[0]), "url") {
				continue // header
			}
		}
		var category string
		raw := rec[0]
		if lr.csvMode {
			if len(rec) != citizenLabColumns {
				return nil, fmt.Errorf("%s:%d: %d columns, want %d (url,category_code,category_description,date_added,source,notes)", lr.name, line, len(rec), citizenLabColumns)
			}
			category = strings.TrimSpace(rec[1])
		} else if len(rec) > 1 {
			raw = strings.Join(rec, ",") // a comma inside a URL of a plain list
		}
		ts, err := Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", lr.name, line, err)
		}
		for i := range ts {
			ts[i].Category = category
			ts[i].Line = line
		}
		lr.count++
		return ts, nil
	}
}
