package policy

import (
	"bytes"
	"strings"
)

var httpMethods = [][]byte{
	[]byte("GET "), []byte("POST "), []byte("HEAD "), []byte("PUT "), []byte("DELETE "),
	[]byte("OPTIONS "), []byte("CONNECT "), []byte("PATCH "), []byte("TRACE "),
}

// looksLikeHTTP reports whether b starts with an HTTP request method.
func looksLikeHTTP(b []byte) bool {
	for _, m := range httpMethods {
		if bytes.HasPrefix(b, m) {
			return true
		}
	}
	return false
}

// httpRequestParts returns the request line and the Host header's value of an
// HTTP request at the start of b, lower-cased. ok is false when b does not
// start with an HTTP request. Only the bytes present are examined.
func httpRequestParts(b []byte) (line, host string, ok bool) {
	if !looksLikeHTTP(b) {
		return "", "", false
	}
	if len(b) > 16384 {
		b = b[:16384]
	}
	first := true
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		var l []byte
		if i < 0 {
			l, b = b, nil
		} else {
			l, b = b[:i], b[i+1:]
		}
		l = bytes.TrimRight(l, "\r")
		if first {
			line = strings.ToLower(string(l))
			first = false
			continue
		}
		if len(l) == 0 {
			break
		}
		if len(l) > 5 && bytes.EqualFold(l[:5], []byte("host:")) {
			host = strings.ToLower(strings.TrimSpace(string(l[5:])))
		}
	}
	return line, host, true
}

// matchKeyword returns the first keyword contained in one of the texts.
func matchKeyword(keywords []string, texts ...string) (string, bool) {
	for _, k := range keywords {
		for _, t := range texts {
			if t != "" && strings.Contains(t, k) {
				return k, true
			}
		}
	}
	return "", false
}

// httpHeadComplete reports whether the request head (up to the empty line) is all there.
func httpHeadComplete(b []byte) bool {
	return bytes.Contains(b, []byte("\r\n\r\n")) || bytes.Contains(b, []byte("\n\n"))
}

// mayBecomeHTTP reports whether b is a strict prefix of an HTTP method and a space.
func mayBecomeHTTP(b []byte) bool {
	for _, m := range httpMethods {
		if len(b) < len(m) && bytes.HasPrefix(m, b) {
			return true
		}
	}
	return false
}
