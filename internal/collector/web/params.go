package web

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store"
)

// paramError is a bad query parameter; it becomes a 400 naming the parameter.
type paramError struct {
	Name, Value, Why string
}

func (e *paramError) Error() string {
	return fmt.Sprintf("bad query parameter %q (%q): %s", e.Name, e.Value, e.Why)
}

// statuses are the measurement statuses a filter may name.
var statuses = append(model.VerdictStatuses(), model.StatusMeasured, store.StatusUnconfirmed)

// filterForm is the filter as the forms show it back.
type filterForm struct {
	Q, Country, ASN, Method, Category, Status string
	Page                                      int
}

// Query returns the filter as a query string without the page.
func (f filterForm) Query() string {
	v := url.Values{}
	for _, kv := range [][2]string{{"q", f.Q}, {"country", f.Country}, {"asn", f.ASN}, {"method", f.Method}, {"category", f.Category}, {"status", f.Status}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	return v.Encode()
}

// Active reports whether any filter is set.
func (f filterForm) Active() bool { return f.Query() != "" }

const maxPage = 10000

// parseFilter reads the filter parameters shared by the list pages.
func parseFilter(q url.Values) (store.Filter, filterForm, error) {
	var f store.Filter
	var form filterForm
	if v := strings.TrimSpace(q.Get("q")); v != "" {
		if len(v) > 200 {
			return f, form, &paramError{"q", v[:20] + "…", "longer than 200 characters"}
		}
		if !printable(v) {
			return f, form, &paramError{"q", v, "contains control characters"}
		}
		f.Query, form.Q = v, v
	}
	if v := strings.TrimSpace(q.Get("country")); v != "" {
		c, err := parseCountry(v)
		if err != nil {
			return f, form, err
		}
		f.Country, form.Country = c, c
	}
	if v := strings.TrimSpace(q.Get("asn")); v != "" {
		n, err := parseASN(v)
		if err != nil {
			return f, form, err
		}
		f.ASN, form.ASN = n, strconv.Itoa(n)
	}
	if v := strings.TrimSpace(q.Get("method")); v != "" {
		if !slices.Contains(model.Methods, v) {
			return f, form, &paramError{"method", v, "not a method; one of " + strings.Join(model.Methods, ", ")}
		}
		f.Method, form.Method = v, v
	}
	if v := strings.TrimSpace(q.Get("category")); v != "" {
		if len(v) > 64 || !printable(v) {
			return f, form, &paramError{"category", v, "at most 64 printable characters"}
		}
		f.Category, form.Category = v, v
	}
	if v := strings.TrimSpace(q.Get("status")); v != "" {
		if !slices.Contains(statuses, v) {
			return f, form, &paramError{"status", v, "not a status; one of " + strings.Join(statuses, ", ")}
		}
		f.Status, form.Status = v, v
	}
	n, err := parsePage(q)
	if err != nil {
		return f, form, err
	}
	form.Page = n
	return f, form, nil
}

func parseCountry(v string) (string, error) {
	c := strings.ToUpper(v)
	if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
		return "", &paramError{"country", v, "want a two-letter ISO 3166 code such as CN"}
	}
	return c, nil
}

func parseASN(v string) (int, error) {
	s := strings.TrimPrefix(strings.ToUpper(v), "AS")
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > 1<<32-1 {
		return 0, &paramError{"asn", v, "want an AS number such as 4134 or AS4134"}
	}
	return n, nil
}

func parsePage(q url.Values) (int, error) {
	v := q.Get("page")
	if v == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPage {
		return 0, &paramError{"page", v, fmt.Sprintf("want a page number from 1 to %d", maxPage)}
	}
	return n, nil
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
