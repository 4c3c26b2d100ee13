package target

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// maxDomainLine bounds one line of a domain list; a longer line is reported
// and skipped, never buffered whole.
const maxDomainLine = 64 << 10

// DomainReader reads host names from a list, one at a time, without holding
// the list in memory. It accepts one name (or URL) per line, a Citizen Lab
// test-list CSV (the host of each URL) and a Tranco-style "rank,domain" CSV.
// Blank lines and lines starting with '#' are skipped; a line that holds no
// valid name is reported to Bad with its number and skipped.
type DomainReader struct {
	name string
	br   *bufio.Reader
	line int
	// Bad, when set, is told about every skipped line; the error names
	// file:line and what was wrong.
	Bad     func(err error)
	skipped int
}

// NewDomainReader returns a reader of r; name is used in messages.
func NewDomainReader(r io.Reader, name string) *DomainReader {
	return &DomainReader{name: name, br: bufio.NewReaderSize(r, maxDomainLine)}
}

// Skipped returns the number of lines reported as bad so far.
func (dr *DomainReader) Skipped() int { return dr.skipped }

// Next returns the next host name (lower case ASCII, no trailing dot) and
// its line number, or io.EOF at the end. Other errors are read errors of
// the underlying reader.
func (dr *DomainReader) Next() (string, int, error) {
	for {
		raw, err := dr.br.ReadSlice('\n')
		tooLong := false
		for err == bufio.ErrBufferFull { // discard the rest of an overlong line
			tooLong = true
			_, err = dr.br.ReadSlice('\n')
		}
		if err != nil && err != io.EOF {
			return "", 0, fmt.Errorf("%s: %w", dr.name, err)
		}
		if len(raw) == 0 && err == io.EOF && !tooLong {
			return "", 0, io.EOF
		}
		dr.line++
		if tooLong {
			dr.bad(fmt.Errorf("%s:%d: line longer than %d bytes", dr.name, dr.line, maxDomainLine))
			continue
		}
		text := strings.TrimSpace(string(raw))
		if dr.line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if text == "" || text[0] == '#' {
			continue
		}
		host, skip, perr := domainOf(text)
		if skip {
			continue
		}
		if perr != nil {
			dr.bad(fmt.Errorf("%s:%d: %v", dr.name, dr.line, perr))
			continue
		}
		return host, dr.line, nil
	}
}

func (dr *DomainReader) bad(err error) {
	dr.skipped++
	if dr.Bad != nil {
		dr.Bad(err)
	}
}

// domainOf extracts the host of one list line. skip is true for a header.
func domainOf(line string) (host string, skip bool, err error) {
	field := line
	if i := strings.IndexByte(line, ','); i >= 0 {
		first := strings.TrimSpace(line[:i])
		rest := line[i+1:]
		switch {
		case strings.EqualFold(first, "url") || strings.EqualFold(first, "rank"):
			return "", true, nil // a header
		case isDigits(first): // Tranco: rank,domain
			field = rest
			if j := strings.IndexByte(rest, ','); j >= 0 {
				field = rest[:j]
			}
		default: // Citizen Lab: url,category_code,...
			field = first
		}
	}
	field = strings.Trim(strings.TrimSpace(field), `"`)
	if field == "" {
		return "", false, fmt.Errorf("no domain in %q", clip(line))
	}
	if strings.Contains(field, "://") {
		ts, err := Parse(field)
		if err != nil {
			return "", false, err
		}
		return ts[0].Host, false, nil
	}
	if i := strings.IndexAny(field, "/?#"); i >= 0 {
		field = field[:i] // a bare domain with a path
	}
	h, err := normalizeHost(field)
	if err != nil {
		return "", false, err
	}
	if strings.Contains(h, ":") || isIPv4(h) {
		return "", false, fmt.Errorf("%q is an address, not a domain", h)
	}
	return h, false, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func isIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if !isDigits(p) {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
