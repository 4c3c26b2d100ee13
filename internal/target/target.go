// Package target turns what a person typed or a test list holds into
// normalized measurement targets: URL, scheme, ASCII host and port.
package target

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Target is one thing to measure.
type Target struct {
	Input    string   // as given
	URL      *url.URL // normalized: lower-case scheme/host, IDNA to ASCII, explicit path "/"
	Scheme   string   // http https imap imaps smtp submission smtps pop3 pop3s
	Host     string   // ASCII host
	Port     int      // explicit or the scheme's default
	Category string   // from a test list, if any
	Line     int      // line number in a list, if any
}

// String returns the normalized URL.
func (t Target) String() string {
	if t.URL == nil {
		return t.Input
	}
	return t.URL.String()
}

// schemes is the table of supported schemes: each one's default port and
// whether it speaks TLS from the first byte. Everything about a scheme is
// read from here.
var schemes = []struct {
	name string
	port int
	tls  bool
}{
	{"http", 80, false}, {"https", 443, true},
	{"imap", 143, false}, {"imaps", 993, true},
	{"smtp", 25, false}, {"submission", 587, false}, {"smtps", 465, true},
	{"pop3", 110, false}, {"pop3s", 995, true},
}

// Schemes returns every supported scheme, web first, then mail.
func Schemes() []string {
	out := make([]string, len(schemes))
	for i, s := range schemes {
		out[i] = s.name
	}
	return out
}

// DefaultPorts maps each supported scheme to its default port.
var DefaultPorts = func() map[string]int {
	m := make(map[string]int, len(schemes))
	for _, s := range schemes {
		m[s.name] = s.port
	}
	return m
}()

// IsTLS reports whether the scheme speaks TLS from the first byte.
func IsTLS(scheme string) bool {
	for _, s := range schemes {
		if s.name == scheme {
			return s.tls
		}
	}
	return false
}

// IsMail reports whether the scheme is a mail protocol.
func IsMail(scheme string) bool {
	switch scheme {
	case "http", "https":
		return false
	}
	_, ok := DefaultPorts[scheme]
	return ok
}

// ErrEmpty is returned for an empty target.
var ErrEmpty = errors.New("empty target")

var profile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.StrictDomainName(false))

// Parse parses one target: a URL with a supported scheme, or a bare domain
// (optionally with a path), which gives two targets, https:// and http://.
func Parse(s string) ([]Target, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return nil, ErrEmpty
	}
	if !strings.Contains(in, "://") {
		a, err := parseURL(in, "https://"+in)
		if err != nil {
			return nil, err
		}
		b, err := parseURL(in, "http://"+in)
		if err != nil {
			return nil, err
		}
		return []Target{a, b}, nil
	}
	t, err := parseURL(in, in)
	if err != nil {
		return nil, err
	}
	return []Target{t}, nil
}

func parseURL(input, raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, fmt.Errorf("malformed URL %q: %v", input, unwrapURLError(err))
	}
	scheme := strings.ToLower(u.Scheme)
	defPort, ok := DefaultPorts[scheme]
	if !ok {
		names := Schemes()
		return Target{}, fmt.Errorf("unsupported scheme %q in %q (want %s or %s)", u.Scheme, input, strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
	}
	if u.Opaque != "" || u.Host == "" {
		return Target{}, fmt.Errorf("malformed URL %q: no host", input)
	}
	if u.User != nil {
		return Target{}, fmt.Errorf("malformed URL %q: user info is not supported", input)
	}
	hostname := u.Hostname()
	port := defPort
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Target{}, fmt.Errorf("malformed URL %q: bad port %q", input, p)
		}
		port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return Target{}, fmt.Errorf("malformed URL %q: empty port", input)
	}
	host, err := normalizeHost(hostname)
	if err != nil {
		return Target{}, fmt.Errorf("malformed host in %q: %v", input, err)
	}
	nu := *u
	nu.Scheme = scheme
	if u.Port() != "" && port != defPort {
		nu.Host = net.JoinHostPort(host, strconv.Itoa(port))
	} else if strings.Contains(host, ":") {
		nu.Host = "[" + host + "]"
	} else {
		nu.Host = host
	}
	if nu.Path == "" && nu.RawPath == "" {
		nu.Path = "/"
	}
	nu.Fragment = ""
	nu.RawFragment = ""
	nu.RawQuery = escapeSpaces(nu.RawQuery)
	return Target{Input: input, URL: &nu, Scheme: scheme, Host: host, Port: port}, nil
}

// escapeSpaces percent-encodes the white space url.Parse leaves in a raw
// query, which Parse would trim from the end of the normalized URL (so
// normalizing stays idempotent: "a.example/? " is "https://a.example/?%20").
func escapeSpaces(q string) string {
	if !strings.ContainsFunc(q, unicode.IsSpace) {
		return q
	}
	var b strings.Builder
	for _, r := range q {
		if !unicode.IsSpace(r) {
			b.WriteRune(r)
			continue
		}
		for _, c := range []byte(string(r)) {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func normalizeHost(h string) (string, error) {
	if h == "" {
		return "", errors.New("empty host")
	}
	if ip := net.ParseIP(h); ip != nil {
		return ip.String(), nil
	}
	h = strings.TrimSuffix(h, ".")
	if !utf8.ValidString(h) {
		return "", errors.New("host name is not valid UTF-8")
	}
	a, err := profile.ToASCII(h)
	if err != nil {
		return "", err
	}
	if _, err := profile.ToUnicode(a); err != nil {
		return "", err
	}
	a = strings.ToLower(a)
	if a == "" || len(a) > 253 {
		return "", fmt.Errorf("bad host name %q", h)
	}
	for _, label := range strings.Split(a, ".") {
		if label == "" || len(label) > 63 {
			return "", fmt.Errorf("bad host name %q", h)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("bad character %q in host name %q", c, h)
			}
		}
	}
	return a, nil
}
