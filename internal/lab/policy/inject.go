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
	i := bytes.LastIndex(bytes.ToLower(body), []byte("</body>"))
	if i < 0 {
		return append(append(out, body...), snippet...)
	}
	out = append(out, body[:i]...)
	out = append(out, snippet...)
	return append(out, body[i:]...)
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
