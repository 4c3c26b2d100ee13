// Package params parses the dashboard's query parameters, untrusted input
// from anyone's browser: the list filter, the feed query, the DNS page's
// filter and the bounds of free-text values. It links no storage, so that its fuzz target runs at a
// parser's speed (docs/reliability.md, "Fuzz targets").
package params

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/firewatch/firewatch/internal/model"
)

// Error is a bad query parameter; the dashboard answers it with a 400
// naming the parameter.
type Error struct {
	Name, Value, Why string
}

func (e *Error) Error() string {
	return fmt.Sprintf("bad query parameter %q (%q): %s", e.Name, e.Value, e.Why)
}

// MaxPage is the highest page number a list accepts.
const MaxPage = 10000

// MaxTargetLen bounds a target URL parameter.
const MaxTargetLen = 2048

// Filter is the list filter as the forms show it back, every field
// normalized (ASN as a decimal number, Country in upper case).
type Filter struct {
	Q, Country, ASN, Method, Category, Status string
	Page                                      int
}

// Query returns the filter as a query string without the page.
func (f Filter) Query() string {
	v := url.Values{}
	for _, kv := range [][2]string{{"q", f.Q}, {"country", f.Country}, {"asn", f.ASN}, {"method", f.Method}, {"category", f.Category}, {"status", f.Status}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	return v.Encode()
}

// Active reports whether any filter is set.
func (f Filter) Active() bool { return f.Query() != "" }

// ParseFilter reads the filter parameters shared by the list pages; a
// status must be one of statuses.
func ParseFilter(q url.Values, statuses []string) (Filter, error) {
	var form Filter
	if v := strings.TrimSpace(q.Get("q")); v != "" {
		if len(v) > 200 {
			return form, &Error{"q", v[:20] + "…", "longer than 200 characters"}
		}
		if !Printable(v) {
			return form, &Error{"q", v, "contains control characters"}
		}
		form.Q = v
	}
	if v := strings.TrimSpace(q.Get("country")); v != "" {
		c, err := ParseCountry(v)
		if err != nil {
			return form, err
		}
		form.Country = c
	}
	if v := strings.TrimSpace(q.Get("asn")); v != "" {
		n, err := ParseASN(v)
		if err != nil {
			return form, err
		}
		form.ASN = strconv.Itoa(n)
	}
	if v := strings.TrimSpace(q.Get("method")); v != "" {
		if !slices.Contains(model.Methods, v) {
			return form, &Error{"method", v, "not a method; one of " + strings.Join(model.Methods, ", ")}
		}
		form.Method = v
	}
	if v := strings.TrimSpace(q.Get("category")); v != "" {
		if len(v) > 64 || !Printable(v) {
			return form, &Error{"category", v, "at most 64 printable characters"}
		}
		form.Category = v
	}
	if v := strings.TrimSpace(q.Get("status")); v != "" {
		if !slices.Contains(statuses, v) {
			return form, &Error{"status", v, "not a status; one of " + strings.Join(statuses, ", ")}
		}
		form.Status = v
	}
	n, err := ParsePage(q)
	if err != nil {
		return form, err
	}
	form.Page = n
	return form, nil
}

// Feed is a parsed feed query: an exact target and a country, each
// optional.
type Feed struct {
	Target, Country string
}

// ParseFeed reads a feed's query parameters.
func ParseFeed(q url.Values) (Feed, error) {
	var fd Feed
	if t := strings.TrimSpace(q.Get("target")); t != "" {
		if len(t) > MaxTargetLen || !Printable(t) {
			return fd, &Error{"target", Trunc(t, 40), "not a target URL"}
		}
		fd.Target = t
	}
	if c := strings.TrimSpace(q.Get("country")); c != "" {
		cc, err := ParseCountry(c)
		if err != nil {
			return fd, err
		}
		fd.Country = cc
	}
	return fd, nil
}

// DNS is the DNS page's filter: a country code of at most two letters,
// an AS number (0 for any) and a substring of the domain.
type DNS struct {
	Country string
	ASN     int
	Query   string
}

// ParseDNS reads the DNS page's filter parameters: country, asn, q.
func ParseDNS(q url.Values) (DNS, error) {
	d := DNS{Country: strings.ToUpper(strings.TrimSpace(q.Get("country"))), Query: strings.TrimSpace(q.Get("q"))}
	if len(d.Country) > 2 {
		return d, &Error{Name: "country", Value: d.Country, Why: "want a two-letter country code"}
	}
	if v := strings.TrimSpace(q.Get("asn")); v != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(strings.ToUpper(v), "AS"))
		if err != nil || n < 0 {
			return d, &Error{Name: "asn", Value: v, Why: "want an AS number"}
		}
		d.ASN = n
	}
	if len(d.Query) > 253 {
		return d, &Error{Name: "q", Value: d.Query[:20] + "…", Why: "longer than a domain"}
	}
	return d, nil
}

// ParseCountry returns a two-letter ISO 3166 code in upper case.
func ParseCountry(v string) (string, error) {
	c := strings.ToUpper(v)
	if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
		return "", &Error{"country", v, "want a two-letter ISO 3166 code such as CN"}
	}
	return c, nil
}

// ParseASN reads an AS number, with or without the AS prefix.
func ParseASN(v string) (int, error) {
	s := strings.TrimPrefix(strings.ToUpper(v), "AS")
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > 1<<32-1 {
		return 0, &Error{"asn", v, "want an AS number such as 4134 or AS4134"}
	}
	return n, nil
}

// ParsePage reads the page parameter: 1 when absent, else 1 to MaxPage.
func ParsePage(q url.Values) (int, error) {
	v := q.Get("page")
	if v == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxPage {
		return 0, &Error{"page", v, fmt.Sprintf("want a page number from 1 to %d", MaxPage)}
	}
	return n, nil
}

// Printable reports whether s has no control or other unprintable
// characters.
func Printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// Trunc shortens s to at most n runes for an error message.
func Trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) > n {
		r = r[:n]
	}
	return string(r) + "…"
}
