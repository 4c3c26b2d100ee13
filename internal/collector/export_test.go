package collector_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/collector"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store/storetest"
)

// TestSlowExportsExhaustNothing: eight anonymous exports of every record
// whose clients never read. Two run (the rest get 429 with Retry-After);
// meanwhile /healthz, the dashboard and ingest answer at once, and the
// collector's heap does not grow with the size of what is exported.
func TestSlowExportsExhaustNothing(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("seeds 25 MB of records (a minute under the race detector); TestStalledExportIsCut covers the export's concurrency")
	}
	ctx := context.Background()
	st := storetest.New(t, nil)
	ms := storetest.Generate(5000, 500, time.Now())
	head := strings.Repeat("<p>a page body of the record format's largest size</p>", 4096/55)
	for i, m := range ms {
		c := *m
		c.Steps = append([]model.Step{{Operation: model.OpHTTPRoundTrip, StartedAt: c.StartedAt,
			HTTP: &model.HTTPData{URL: c.Target, Method: "GET", Status: 200, BodyHead: head}}}, c.Steps...)
		ms[i] = &c
	}
	if _, err := st.Insert(ctx, ms); err != nil {
		t.Fatal(err)
	}
	secret, err := st.CreateToken(ctx, "probe-1")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(collector.New(st, collector.Config{MaxExports: 2, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()

	// Eight clients that ask for everything and read only the status line.
	codes := map[int]int{}
	for i := range 8 {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.(*net.TCPConn).SetReadBuffer(4096)
		fmt.Fprintf(c, "GET /api/v1/export?format=jsonl&limit=1000000 HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReaderSize(c, 16), nil) // the status line and headers only
		if err != nil {
			t.Fatalf("export %d: %v", i, err)
		}
		codes[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "10" {
			t.Errorf("429 with Retry-After %q, want 10", resp.Header.Get("Retry-After"))
		}
	}
	if codes[200] != 2 || codes[429] != 6 {
		t.Errorf("exports answered %v, want 2 × 200 and 6 × 429", codes)
	}
	time.Sleep(200 * time.Millisecond) // the two exports are now blocked on their clients

	client := &http.Client{Timeout: 5 * time.Second}
	for _, path := range []string{"/healthz", "/", "/api/v1/overview"} {
		start := time.Now()
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatalf("GET %s during the exports: %v", path, err)
		}
		resp.Body.Close()
		// Before, every pooled connection was held by an export and
		// /healthz gave up with 503 after its 5 s timeout.
		if d := time.Since(start); resp.StatusCode != 200 || d > 4*time.Second {
			t.Errorf("GET %s during the exports: %d after %v, want 200 at once", path, resp.StatusCode, d.Round(time.Millisecond))
		}
	}
	m := *ms[0]
	m.ID, m.StartedAt = "during-the-exports", time.Now().UTC()
	body, _ := json.Marshal(&m)
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/measurements", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("ingest during the exports: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if grown := int64(heap()) - int64(before); grown > 16<<20 {
		t.Errorf("heap grew by %d MiB during two stalled exports of 25 MB, want a page's worth", grown>>20)
	}
}
