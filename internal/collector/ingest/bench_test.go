package ingest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store"
	"github.com/firewatch/firewatch/internal/store/sample"
)

// BenchmarkIngest measures the whole ingest path into SQLite: gzip'd JSON
// Lines batches of 500 realistic records, decompressed, parsed, validated
// and stored.
func BenchmarkIngest(b *testing.B) {
	const batch = 500
	st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "c.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	secret, _ := st.CreateToken(context.Background(), "bench")
	h := Handler(st, Options{Rate: 1e6, Burst: 1e6})
	seq := 0
	body := func() []byte {
		ms := make([]*model.Measurement, batch)
		for i := range ms {
			seq++
			ms[i] = sample.Measurement(fmt.Sprint("i", seq), fmt.Sprintf("https://site%d.example/", seq%1000), "IR", 44244,
				time.Now().Add(-time.Duration(seq)*time.Second), model.StatusOK)
		}
		return gz(jsonl(ms...))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		req := httptest.NewRequest(http.MethodPost, "/api/v1/measurements", bytes.NewReader(body()))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Encoding", "gzip")
		w := httptest.NewRecorder()
		b.StartTimer()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkValidate: the schema and bounds checks of one record.
func BenchmarkValidate(b *testing.B) {
	m := sample.Measurement("bench", "https://news.example/", "CN", 4134, time.Now(), model.StatusBlocked, model.MethodTCPReset)
	b.ReportAllocs()
	for range b.N {
		if err := Validate(m); err != nil {
			b.Fatal(err)
		}
	}
}
