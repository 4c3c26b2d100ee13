package probe

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"

	"github.com/firewatch/firewatch/internal/model"
)

// elementDigestHex is the length of one element digest: the first 8 bytes
// of the SHA-256, in hex.
const elementDigestHex = 16

// ElementScanner finds the <script>...</script> and <iframe ...> elements of
// an HTML body as it streams through Write, and keeps the distinct digests
// of each (SHA-256 of the element, whitespace runs collapsed to one space):
// a script's start tag, inline content and end tag; an iframe's start tag.
// Tag names match case-insensitively; quoted attribute values may hold '>'.
// An element the body ends inside is not counted. Memory stays bounded: at
// most model.MaxElements digests, the rest of the body is scanned for nothing.
type ElementScanner struct {
	st      scanState
	name    [6]byte // the tag name read so far after '<'
	n       int     // bytes in name
	iframe  bool    // the element is an iframe (else a script)
	quote   byte    // the quote of the attribute value the start tag is in
	end     int     // bytes of "</script" matched in a script's content
	space   bool    // the last byte hashed was a collapsed space
	h       hash.Hash
	seen    map[string]bool
	digests []string
}

type scanState uint8

const (
	scanText    scanState = iota
	scanName              // after '<', reading a tag name
	scanTag               // inside a start tag
	scanContent           // inside a script's content
	scanEndTag            // after "</script", up to its '>'
)

// NewElementScanner returns a scanner with no element found yet.
func NewElementScanner() *ElementScanner {
	return &ElementScanner{h: sha256.New(), seen: map[string]bool{}, digests: []string{}}
}

// Write scans p; it never fails.
func (s *ElementScanner) Write(p []byte) (int, error) {
	for _, c := range p {
		s.scan(c)
	}
	return len(p), nil
}

// Digests returns the distinct element digests, in the order first found,
// never nil (a body without such elements gives an empty list).
func (s *ElementScanner) Digests() []string { return s.digests }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func (s *ElementScanner) scan(c byte) {
	switch s.st {
	case scanText:
		if c == '<' {
			s.st, s.n = scanName, 0
		}
	case scanName:
		if s.n == len(s.name) {
			word := string(s.name[:])
			if (word == "script" || word == "iframe") && (isSpace(c) || c == '>' || c == '/') {
				s.begin(word == "iframe")
				s.scanTagByte(c)
				return
			}
			s.st = scanText
			s.scan(c)
			return
		}
		l := lowerASCII(c)
		if l != "script"[s.n] && l != "iframe"[s.n] {
			s.st = scanText
			s.scan(c) // it may be the next '<'
			return
		}
		s.name[s.n] = l
		s.n++
	case scanTag:
		s.scanTagByte(c)
	case scanContent:
		s.hash(c)
		const closing = "</script"
		switch {
		case lowerASCII(c) == closing[s.end]:
			s.end++
		case c == '<':
			s.end = 1
		default:
			s.end = 0
		}
		if s.end == len(closing) {
			s.st = scanEndTag
		}
	case scanEndTag:
		s.hash(c)
		if c == '>' {
			s.finish()
		}
	}
}

// begin starts an element whose tag name has just been read.
func (s *ElementScanner) begin(iframe bool) {
	s.st, s.iframe, s.quote, s.end, s.space = scanTag, iframe, 0, 0, false
	s.h.Reset()
	s.h.Write([]byte{'<'})
	s.h.Write(s.name[:])
}

func (s *ElementScanner) scanTagByte(c byte) {
	s.hash(c)
	switch {
	case s.quote != 0:
		if c == s.quote {
			s.quote = 0
		}
	case c == '"' || c == '\'':
		s.quote = c
	case c == '>':
		if s.iframe {
			s.finish()
		} else {
			s.st = scanContent
		}
	}
}

// hash adds c to the element's digest, collapsing whitespace runs.
func (s *ElementScanner) hash(c byte) {
	if isSpace(c) {
		if !s.space {
			s.h.Write([]byte{' '})
			s.space = true
		}
		return
	}
	s.space = false
	s.h.Write([]byte{c})
}

func (s *ElementScanner) finish() {
	s.st = scanText
	if len(s.digests) >= model.MaxElements {
		return
	}
	d := hex.EncodeToString(s.h.Sum(nil))[:elementDigestHex]
	if !s.seen[d] {
		s.seen[d] = true
		s.digests = append(s.digests, d)
	}
}
