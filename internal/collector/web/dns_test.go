package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/store/storetest"
)

func TestDNSPage(t *testing.T) {
	t.Parallel()
	st := storetest.New(t, time.Now)
	if _, err := st.InsertDNS(context.Background(), storetest.SampleDNS(time.Now())); err != nil {
		t.Fatal(err)
	}
	h := Handler(st, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	code, body := get("/dns")
	if code != http.StatusOK {
		t.Fatalf("GET /dns: %d\n%s", code, body)
	}
	for _, want := range []string{"www.falundafa.org", "news.zone.example", "*.zone.example", "203.0.113.201", "lifted.example no longer censored", "<svg"} {
		if !strings.Contains(body, want) {
			t.Errorf("/dns lacks %q", want)
		}
	}
	censored := body[strings.Index(body, `id="dns-censored"`):]
	censored = censored[:strings.Index(censored, "</table>")]
	if strings.Contains(censored, "lifted.example") || strings.Contains(censored, "clean.example") {
		t.Errorf("the censored table lists a domain that is not censored:\n%s", censored)
	}
	if _, body := get("/dns?country=US"); strings.Contains(body, "falundafa") {
		t.Errorf("/dns?country=US lists CN's domains")
	}
	if code, _ := get("/dns?asn=x"); code != http.StatusBadRequest {
		t.Errorf("/dns?asn=x: %d, want 400", code)
	}
	_, feed := get("/feed.atom")
	if !strings.Contains(feed, "www.falundafa.org censored by DNS in CN AS4134") || !strings.Contains(feed, "dns.uncensored") {
		t.Errorf("the Atom feed lacks the DNS events:\n%s", feed)
	}
	_, rss := get("/feed.rss")
	if !strings.Contains(rss, "lifted.example no longer censored") {
		t.Errorf("the RSS feed lacks the DNS events")
	}
}
