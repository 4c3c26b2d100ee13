package probe

import (
	"bytes"
	"html"
	"strings"
	"unicode/utf8"

	"github.com/firewatch/firewatch/internal/model"
)

// maxTitle bounds a recorded title, in bytes.
const maxTitle = model.MaxTitle

// Title extracts the text of the first <title> element of an HTML document
// head: case-insensitive, tolerant of attributes and a missing end tag,
// entity-decoded, whitespace collapsed, bounded in length.
func Title(doc []byte) string {
	lower := asciiLower(doc)
	i := bytes.Index(lower, []byte("<title"))
	for i >= 0 {
		rest := lower[i+len("<title"):]
		if len(rest) > 0 && (rest[0] == '>' || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r' || rest[0] == '/') {
			break
		}
		j := bytes.Index(rest, []byte("<title"))
		if j < 0 {
			return ""
		}
		i += len("<title") + j
	}
	if i < 0 {
		return ""
	}
	start := bytes.IndexByte(lower[i:], '>')
	if start < 0 {
		return ""
	}
	start += i + 1
	end := bytes.Index(lower[start:], []byte("</title"))
	if end < 0 {
		end = len(lower) - start
		if k := bytes.IndexByte(lower[start:], '<'); k >= 0 {
			end = k
		}
	}
	raw := doc[start : start+end]
	if len(raw) > 4*maxTitle {
		raw = raw[:4*maxTitle]
	}
	s := strings.ToValidUTF8(string(raw), "\uFFFD")
	s = html.UnescapeString(s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxTitle {
		s = s[:maxTitle]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// asciiLower lower-cases ASCII letters only, so that offsets into the result
// are offsets into doc (bytes.ToLower may change lengths).
func asciiLower(doc []byte) []byte {
	out := make([]byte, len(doc))
	for i, c := range doc {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}
