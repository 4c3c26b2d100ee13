package collector_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/collector"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store/storetest"
)

// BenchmarkExport serves JSON Lines exports of every record (each with a
// 4 KiB body_head) to a client that reads at once, for two sizes of store,
// and reports the records per second and the largest live heap seen during
// the export: flat in the export's size.
func BenchmarkExport(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			st := storetest.New(b, nil)
			ms := storetest.Generate(n, n/10, time.Now())
			head := strings.Repeat("x", 4096)
			for i, m := range ms {
				c := *m
				c.Steps = append([]model.Step{{Operation: model.OpHTTPRoundTrip, StartedAt: c.StartedAt,
					HTTP: &model.HTTPData{URL: c.Target, Method: "GET", Status: 200, BodyHead: head}}}, c.Steps...)
				ms[i] = &c
			}
			if _, err := st.Insert(context.Background(), ms); err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(collector.New(st, collector.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
			defer srv.Close()
			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			var peak atomic.Uint64
			stop := make(chan struct{})
			go func() {
				var m runtime.MemStats
				for {
					select {
					case <-stop:
						return
					case <-time.After(5 * time.Millisecond):
					}
					runtime.ReadMemStats(&m)
					if m.HeapAlloc > peak.Load() {
						peak.Store(m.HeapAlloc)
					}
				}
			}()
			b.ResetTimer()
			for range b.N {
				resp, err := http.Get(srv.URL + "/api/v1/export?format=jsonl&limit=1000000")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, resp.Body); err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
			b.StopTimer()
			close(stop)
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(int64(peak.Load())-int64(base.HeapAlloc))/(1<<20), "peak-heap-MiB")
		})
	}
}
