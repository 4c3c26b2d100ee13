package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/collector/web"
	"github.com/firewatch/firewatch/internal/store"
	"github.com/firewatch/firewatch/internal/store/storetest"
)

// benchStore returns the store the dashboard benchmarks read: the SQLite
// or PostgreSQL database named by FIREWATCH_BENCH_DB (already seeded, e.g.
// by the storage benchmarks), else a new SQLite store seeded with 10,000
// measurements of 1,000 targets. It also returns one target to open.
func benchStore(b *testing.B) (store.Store, string) {
	b.Helper()
	ctx := context.Background()
	if db := os.Getenv("FIREWATCH_BENCH_DB"); db != "" {
		st, err := store.Open(ctx, db)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		ts, err := st.Targets(ctx, store.Filter{Status: "blocked"}, store.Page{Limit: 1})
		if err != nil || len(ts) == 0 {
			ts, err = st.Targets(ctx, store.Filter{}, store.Page{Limit: 1})
		}
		if err != nil || len(ts) == 0 {
			b.Fatalf("FIREWATCH_BENCH_DB has no target (%v)", err)
		}
		return st, ts[0].Target
	}
	st := storetest.New(b, nil)
	if _, err := st.Insert(ctx, storetest.Generate(10_000, 1_000, time.Now())); err != nil {
		b.Fatal(err)
	}
	return st, "https://site7.example/"
}

func benchPage(b *testing.B, path string, h http.Handler) {
	b.Helper()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		lat = append(lat, time.Since(start))
		if rec.Code != 200 {
			b.Fatalf("GET %s: %d", path, rec.Code)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
}

// BenchmarkOverviewPage measures GET / through the dashboard handler.
func BenchmarkOverviewPage(b *testing.B) {
	st, _ := benchStore(b)
	h := web.Handler(st, web.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	benchPage(b, "/", h)
}

// BenchmarkTargetPage measures GET /target?u=... (history, timeline and
// side-by-side evidence of the latest measurement).
func BenchmarkTargetPage(b *testing.B) {
	st, tgt := benchStore(b)
	h := web.Handler(st, web.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	benchPage(b, "/target?u="+url.QueryEscape(tgt), h)
}
