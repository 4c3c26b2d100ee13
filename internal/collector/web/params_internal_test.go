package web

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/store/storetest"
)

// hostileSeeds are the bases of TestHostileQueries' mutations (the seeds
// of the fuzz target FuzzDashboardQuery it replaces).
var hostileSeeds = []string{"asn=AS4134&country=cn", "u=https%3A%2F%2Fmitm.example%2F&m=m-mitm-0", "page=2&q=example",
	"method=tls.mitm&status=blocked", "target=x&country=ZZ", "id=m-dns-1", "u=%3Cscript%3E", "q=%00", "page=99999999999999999999",
	"next=//evil", "category=news&status=unconfirmed&page=10000", "asn=4294967296", "country=%C5%BFn", "q=+%E2%80%AE+&target=%FF"}

// hostileValues are values a hostile query gives to a parameter.
var hostileValues = []string{"", " ", "<script>alert(1)</script>", `"><script>alert(2)</script>`, "<ScRiPt src=//evil>",
	"%3Cscript%3E", "\x00", "\xff\xfe", "\r\nSet-Cookie: x=1", "javascript:alert(3)", "//evil.example", "/\\evil",
	"-1", "0", "10001", "1e3", "AS", "AS-1", "ＣＮ", "\u202e", strings.Repeat("a", 201), strings.Repeat("<", 3000),
	"https://mitm.example/", "m-mitm-0", "CN", "4134", "blocked", "dns.injection", "2"}

// hostileQueries returns TestHostileQueries' queries: the seeds, every
// parameter a page reads set to every hostile value (raw and escaped),
// FuzzParams' committed corpus, and seeded random mutations of them all.
func hostileQueries(t *testing.T) []string {
	t.Helper()
	qs := slices.Clone(hostileSeeds)
	// Every parameter a public page reads.
	names := []string{"q", "country", "asn", "method", "category", "status", "page", "target", "u", "m", "id", "next", "queued"}
	for _, p := range names {
		for _, v := range hostileValues {
			qs = append(qs, p+"="+url.QueryEscape(v), p+"="+v)
		}
	}
	files, _ := filepath.Glob(filepath.Join("params", "testdata", "fuzz", "FuzzParams", "*"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		// "go test fuzz v1" then string("...").
		for _, line := range strings.Split(string(b), "\n")[1:] {
			if s, ok := strings.CutPrefix(strings.TrimSpace(line), "string("); ok {
				if v, err := strconv.Unquote(strings.TrimSuffix(s, ")")); err == nil {
					qs = append(qs, v)
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(14, 10))
	base := len(qs)
	for range 300 {
		a, b := []byte(qs[rng.IntN(base)]), qs[rng.IntN(base)]
		switch rng.IntN(4) {
		case 0: // splice two queries
			qs = append(qs, string(a[:rng.IntN(len(a)+1)])+"&"+b)
		case 1: // flip bytes
			for range 1 + rng.IntN(4) {
				if len(a) > 0 {
					a[rng.IntN(len(a))] = byte(rng.IntN(256))
				}
			}
			qs = append(qs, string(a))
		case 2: // insert a hostile value
			i := rng.IntN(len(a) + 1)
			qs = append(qs, string(a[:i])+hostileValues[rng.IntN(len(hostileValues))]+string(a[i:]))
		default: // set one more parameter
			qs = append(qs, string(a)+"&"+names[rng.IntN(len(names))]+"="+url.QueryEscape(hostileValues[rng.IntN(len(hostileValues))]))
		}
	}
	return qs
}

// publicPages are the pages anyone may open.
var publicPages = []string{"/", "/targets", "/target", "/events", "/dns", "/measurement", "/feed.atom", "/feed.rss", "/login"}

// TestHostileQueries sends every hostile query to every public page of a
// seeded store: the answer is never a 500 and never reflects a raw tag.
// It was the fuzz target FuzzDashboardQuery, whose coverage guidance was
// spent on SQLite's internals at ~600 executions a second; the parsing it
// reached is fuzzed by FuzzParams (docs/reliability.md).
func TestHostileQueries(t *testing.T) {
	st := storetest.Seeded(t, time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC))
	h := Handler(st, Options{AdminPassword: "correct horse battery staple", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	qs := hostileQueries(t)
	codes := map[int]int{}
	for _, path := range publicPages {
		for _, query := range qs {
			req := httptest.NewRequest("GET", "/", nil)
			req.URL.Path, req.URL.RawQuery = path, query
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			codes[rec.Code]++
			if path == "/login" {
				if n := safeNext(req.URL.Query().Get("next")); n != "/" && (!strings.HasPrefix(n, "/") || strings.HasPrefix(n, "//") ||
					strings.HasPrefix(n, "/\\") || strings.ContainsAny(n, "\r\n\\")) {
					t.Fatalf("GET %s?%s: next %q is not a local path", path, query, n)
				}
			}
			if rec.Code >= 500 {
				t.Fatalf("GET %s?%s: status %d", path, query, rec.Code)
			}
			// A plain-text answer a browser may not sniff (http.Error's,
			// the feeds' 400) shows a tag as text; any other must escape it.
			plain := strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") && rec.Header().Get("X-Content-Type-Options") == "nosniff"
			if !plain && strings.Contains(strings.ToLower(rec.Body.String()), "<script") {
				t.Fatalf("GET %s?%s: raw <script> in the %s answer", path, query, rec.Header().Get("Content-Type"))
			}
		}
	}
	// The queries reach past the parsing: pages are rendered, and refused.
	if codes[http.StatusOK] < len(qs) || codes[http.StatusBadRequest] < len(qs) {
		t.Fatalf("%d queries × %d pages: statuses %v, want many 200 and 400", len(qs), len(publicPages), codes)
	}
	t.Logf("%d queries × %d pages: statuses %v", len(qs), len(publicPages), codes)
}
