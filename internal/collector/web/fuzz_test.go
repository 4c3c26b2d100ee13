package web_test

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/collector/web"
	"github.com/firewatch/firewatch/internal/store/storetest"
)

var fuzzPaths = []string{"/", "/targets", "/target", "/events", "/measurement", "/feed.atom", "/feed.rss", "/login"}

// FuzzDashboardQuery sends arbitrary query strings to every public page:
// the answer is never a 500 and never reflects a raw tag. Each query seeds
// one page (the fuzzer moves it to the others): rendering a page is the
// expensive part of an execution, and a seed per page and query made the
// baseline alone 80 renders.
func FuzzDashboardQuery(f *testing.F) {
	st := storetest.Seeded(f, testNow)
	h := web.Handler(st, web.Options{AdminPassword: testPassword, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for i, s := range []string{"asn=AS4134&country=cn", "u=https%3A%2F%2Fmitm.example%2F&m=m-mitm-0", "page=2&q=example",
		"method=tls.mitm&status=blocked", "target=x&country=ZZ", "id=m-dns-1", "u=%3Cscript%3E", "q=%00", "page=99999999999999999999", "next=//evil"} {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, p uint8, query string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path = fuzzPaths[int(p)%len(fuzzPaths)]
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("GET %s?%s: status %d", req.URL.Path, query, rec.Code)
		}
		if strings.Contains(strings.ToLower(rec.Body.String()), "<script") {
			t.Fatalf("GET %s?%s: raw <script> in the answer", req.URL.Path, query)
		}
	})
}
