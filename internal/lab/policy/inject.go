package policy

import (
	"bytes"
	"mime"
	"net/http"
	"strings"
)

// InjectHTML returns body with snippet inserted before its last </body>
// (matched in any case), or appended when the page has none: what an
// injecting http-proxy does to a page.
func InjectHTML(body []byte, snippet string) []byte {
	out := make([]byte, 0, len(body)+len(snippet))
	i := lastIndexFold(body, "</body>")
	if i < 0 {
		return append(append(out, body...), snippet...)
	}
	out = append(out, body[:i]...)
	out = append(out, snippet...)
	return append(out, body[i:]...)
}

// lastIndexFold returns the index of the last instance of the ASCII
// string tag in b, ignoring ASCII case, or -1; b may hold any bytes
// (bytes.ToLower would change the length of invalid UTF-8).
func lastIndexFold(b []byte, tag string) int {
	for i := len(b) - len(tag); i >= 0; i-- {
		if bytes.EqualFold(b[i:i+len(tag)], []byte(tag)) {
			return i
		}
	}
	return -1
}

// IsHTML reports whether a response with this Content-Type (and the start
// of its body, when the type is missing) is an HTML page.
func IsHTML(contentType string, start []byte) bool {
	if contentType == "" {
		contentType = http.DetectContentType(start)
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return strings.EqualFold(mt, "text/html") || strings.EqualFold(mt, "application/xhtml+xml")
}
