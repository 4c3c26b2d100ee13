package params

import (
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/firewatch/firewatch/internal/model"
)

// paramNames are the query parameters the public pages read.
var paramNames = []string{"q", "country", "asn", "method", "category", "status", "page", "target"}

// statuses is a status vocabulary as the dashboard's.
var statuses = append(model.VerdictStatuses(), model.StatusMeasured, "unconfirmed")

// FuzzParams fuzzes the parsing of untrusted query strings (the list
// filter, the feed query and the DNS filter): it never panics, a rejected
// value is an *Error naming its parameter, every accepted value is within
// its vocabulary and bounds, and a parsed filter written back as a query
// string parses to itself. Rendering whole pages from such queries is the
// web package's TestHostileQueries (docs/reliability.md says why that is
// not a fuzz target).
func FuzzParams(f *testing.F) {
	for _, s := range []string{"asn=AS4134&country=cn", "page=2&q=example", "method=tls.mitm&status=blocked",
		"target=x&country=ZZ", "q=%00", "page=99999999999999999999", "category=news&status=unconfirmed&page=10000",
		"asn=4294967296", "country=%C5%BFn", "q=+%E2%80%AE+&target=%FF", "q=a&q=%3Cb%3E&asn=as1&asn=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw) // as r.URL.Query(): a bad pair is dropped
		checkFilter(t, q)
		checkFeed(t, q)
		checkDNS(t, q)
	})
}

func checkError(t *testing.T, what string, q url.Values, err error) {
	t.Helper()
	var pe *Error
	if !errors.As(err, &pe) || !slices.Contains(paramNames, pe.Name) {
		t.Fatalf("%s(%v): error %v does not name a parameter", what, q, err)
	}
	if !utf8.ValidString(pe.Why) || pe.Why == "" {
		t.Fatalf("%s(%v): error %v gives no reason", what, q, err)
	}
}

func checkFilter(t *testing.T, q url.Values) {
	t.Helper()
	form, err := ParseFilter(q, statuses)
	if err != nil {
		checkError(t, "ParseFilter", q, err)
		return
	}
	bad := func(field, v string) { t.Fatalf("ParseFilter(%v) accepted %s %q", q, field, v) }
	if len(form.Q) > 200 || !Printable(form.Q) || form.Q != strings.TrimSpace(form.Q) {
		bad("q", form.Q)
	}
	if form.Country != "" && !isCountry(form.Country) {
		bad("country", form.Country)
	}
	if n, err := strconv.Atoi(form.ASN); form.ASN != "" && (err != nil || n <= 0 || n > 1<<32-1 || strconv.Itoa(n) != form.ASN) {
		bad("asn", form.ASN)
	}
	if form.Method != "" && !slices.Contains(model.Methods, form.Method) {
		bad("method", form.Method)
	}
	if len(form.Category) > 64 || !Printable(form.Category) || form.Category != strings.TrimSpace(form.Category) {
		bad("category", form.Category)
	}
	if form.Status != "" && !slices.Contains(statuses, form.Status) {
		bad("status", form.Status)
	}
	if form.Page < 1 || form.Page > MaxPage {
		bad("page", strconv.Itoa(form.Page))
	}
	// The normalized filter (the forms' and pager's links) parses to itself.
	again := form.Query()
	if form.Page != 1 {
		again += "&page=" + strconv.Itoa(form.Page)
	}
	q2, err := url.ParseQuery(again)
	if err != nil {
		t.Fatalf("filter %+v wrote %q: %v", form, again, err)
	}
	if form2, err := ParseFilter(q2, statuses); err != nil || form2 != form {
		t.Fatalf("filter %+v wrote %q, which parses to %+v, %v", form, again, form2, err)
	}
}

func checkFeed(t *testing.T, q url.Values) {
	t.Helper()
	fd, err := ParseFeed(q)
	if err != nil {
		checkError(t, "ParseFeed", q, err)
		return
	}
	if len(fd.Target) > MaxTargetLen || !Printable(fd.Target) || fd.Target != strings.TrimSpace(fd.Target) {
		t.Fatalf("ParseFeed(%v) accepted target %q", q, fd.Target)
	}
	if fd.Country != "" && !isCountry(fd.Country) {
		t.Fatalf("ParseFeed(%v) accepted country %q", q, fd.Country)
	}
	again := url.Values{}
	for k, v := range map[string]string{"target": fd.Target, "country": fd.Country} {
		if v != "" {
			again.Set(k, v)
		}
	}
	if fd2, err := ParseFeed(again); err != nil || fd2 != fd {
		t.Fatalf("feed %+v wrote %q, which parses to %+v, %v", fd, again.Encode(), fd2, err)
	}
}

func isCountry(c string) bool {
	return len(c) == 2 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z'
}

func checkDNS(t *testing.T, q url.Values) {
	t.Helper()
	d, err := ParseDNS(q)
	if err != nil {
		checkError(t, "ParseDNS", q, err)
		return
	}
	if len(d.Country) > 2 || d.Country != strings.ToUpper(d.Country) || d.ASN < 0 || len(d.Query) > 253 || d.Query != strings.TrimSpace(d.Query) {
		t.Fatalf("ParseDNS(%v) accepted %+v", q, d)
	}
	again := url.Values{}
	again.Set("country", d.Country)
	again.Set("q", d.Query)
	if d.ASN != 0 {
		again.Set("asn", strconv.Itoa(d.ASN))
	}
	if d2, err := ParseDNS(again); err != nil || d2 != d {
		t.Fatalf("DNS filter %+v wrote %q, which parses to %+v, %v", d, again.Encode(), d2, err)
	}
}
