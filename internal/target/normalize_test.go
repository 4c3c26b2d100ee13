package target

import (
	"net/url"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		// The collector's cases before it used this normalizer.
		"HTTPS://Example.COM:443/Path": "https://example.com/Path",
		"http://example.com:80/":       "http://example.com/",
		"http://example.com:8080/":     "http://example.com:8080/",
		"https://[2001:DB8::1]:443/":   "https://[2001:db8::1]/",
		"not a url":                    "not a url",
		// The probe's rules, which the collector lacked: every scheme's
		// default port, path "/", IDNA, no fragment.
		" smtp://Mail.Example:25 ":     "smtp://mail.example/",
		"imaps://mail.example:993":     "imaps://mail.example/",
		"http://example.com":           "http://example.com/",
		"https://Bücher.example/a#top": "https://xn--bcher-kva.example/a",
		"http://example.com./?q=1":     "http://example.com/?q=1",
		// Not a target Parse reads as one: scheme and host only.
		"FTP://Example.COM:21/x": "ftp://example.com:21/x",
		"example.com":            "example.com",
		"http://bad_host!/":      "http://bad_host!/",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

// legacyNormalize is the collector's own normalizer before it used
// Normalize (internal/store/normalize.go), kept to prove that the keys of
// stored history do not move.
func legacyNormalize(target string) string {
	target = strings.TrimSpace(target)
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return target
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	return u.String()
}

var normalizeSeeds = []string{
	"https://www.example.com/", "HTTP://WWW.Example.COM", "imaps://mail.example.com:993/", "smtp://mx.example:2525/",
	"https://Bücher.example/a?b=c#d", "http://[2001:db8::1]:8080/x", "http://192.0.2.1/", "pop3://pop.example.", "example.com/path",
	"https://a.example/%41b", "gopher://x.example/",
}

// FuzzNormalize checks that Normalize is idempotent, and that on every
// target the probe writes (Parse's form) it is the identity and agrees with
// the collector's former normalizer: no stored key changes.
func FuzzNormalize(f *testing.F) {
	for _, s := range normalizeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if again := Normalize(n); again != n {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q", s, n, n, again)
		}
		ts, err := Parse(s)
		if err != nil {
			return
		}
		for _, x := range ts {
			w := x.String()
			if got := Normalize(w); got != w {
				t.Errorf("Normalize(%q) = %q: a probe's target changes", w, got)
			}
			if got := legacyNormalize(w); got != w {
				t.Errorf("the former collector normalizer maps the probe's %q to %q", w, got)
			}
		}
	})
}
