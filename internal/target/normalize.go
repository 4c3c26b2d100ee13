package target

import (
	"net/url"
	"strconv"
	"strings"
)

// Normalize returns the form of a target URL that records hold and the
// collector keys its history by. A URL that Parse reads as one target gets
// Parse's form, which is what the probe writes: lower-case scheme, IDNA
// host in ASCII, no default port, path "/" at least, no fragment. Any other
// absolute URL (an unsupported scheme, a host Parse refuses) gets its scheme
// and host lower-cased and its scheme's default port dropped; anything else
// is returned trimmed. Normalize(Normalize(s)) == Normalize(s).
func Normalize(s string) string {
	s = strings.TrimSpace(s)
	if n, ok := parsedForm(s); ok {
		return n
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return s
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if p, ok := DefaultPorts[u.Scheme]; ok && port == strconv.Itoa(p) {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	if n, ok := parsedForm(u.String()); ok {
		return n // the cleaning made it a target, e.g. an empty port dropped
	}
	return u.String()
}

// parsedForm returns Parse's form of s when s is one target URL.
func parsedForm(s string) (string, bool) {
	if !strings.Contains(s, "://") {
		return "", false
	}
	ts, err := Parse(s)
	if err != nil || len(ts) != 1 {
		return "", false
	}
	return ts[0].String(), true
}
