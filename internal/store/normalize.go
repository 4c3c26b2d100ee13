package store

import (
	"net/url"
	"sort"
	"strings"
)

// NormalizeTarget lower-cases the scheme and host of a target URL and strips
// its default port. The probe already normalizes targets; the collector does
// it again defensively so that one target never has two histories. A string
// that does not parse as an absolute URL is returned trimmed.
func NormalizeTarget(target string) string {
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

// encodeMethods stores methods as ",a,b," (sorted, deduplicated) so that
// LIKE '%,m,%' matches exactly one method.
func encodeMethods(ms []string) string {
	if len(ms) == 0 {
		return ""
	}
	return "," + strings.Join(ms, ",") + ","
}

func decodeMethods(s string) []string {
	s = strings.Trim(s, ",")
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// sortedMethods returns a sorted, deduplicated copy of ms.
func sortedMethods(ms []string) []string {
	out := make([]string, 0, len(ms))
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		if m != "" && !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

func equalMethods(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
