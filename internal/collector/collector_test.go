package collector_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/collector"
	"github.com/firewatch/firewatch/internal/store"
	"github.com/firewatch/firewatch/internal/store/storetest"
)

func newCollector(t *testing.T) (*httptest.Server, store.Store) {
	t.Helper()
	st := storetest.Seeded(t, time.Now())
	srv := httptest.NewServer(collector.New(st, collector.Config{AdminPassword: "pw",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	t.Cleanup(srv.Close)
	return srv, st
}

func fetch(t *testing.T, u string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestHealthz(t *testing.T) {
	srv, st := newCollector(t)
	if code, _, body := fetch(t, srv.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("healthz: %d %q, want 200 ok", code, body)
	}
	st.Close() // the store is gone
	if code, _, _ := fetch(t, srv.URL+"/healthz"); code != 503 {
		t.Errorf("healthz with a failing store: %d, want 503", code)
	}
}

func TestDashboardAndMetrics(t *testing.T) {
	srv, _ := newCollector(t)
	code, hdr, body := fetch(t, srv.URL+"/")
	if code != 200 || !strings.Contains(body, storetest.TargetMITM) || hdr.Get("Content-Security-Policy") == "" {
		t.Fatalf("dashboard: status %d", code)
	}
	fetch(t, srv.URL+"/target?u=nope")
	code, _, body = fetch(t, srv.URL+"/metrics")
	if code != 200 {
		t.Fatalf("metrics: status %d", code)
	}
	for _, want := range []string{
		`firewatch_http_requests_total{code="200",route="GET /{$}"} 1`,
		`firewatch_http_requests_total{code="404",route="GET /target"} 1`,
		"firewatch_http_request_duration_seconds_bucket",
		"firewatch_measurements_ingested_total",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestRunWebhooksWithoutHooksReturns(t *testing.T) {
	if err := collector.RunWebhooks(context.Background(), storetest.New(t, nil), collector.Config{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := collector.RunWebhooks(ctx, storetest.New(t, nil), collector.Config{Webhooks: []collector.Webhook{{URL: "ftp://x/"}}})
	if err == nil {
		t.Error("an ftp webhook was accepted")
	}
}

func TestIngestThenDashboardAndAPI(t *testing.T) {
	st := storetest.New(t, nil)
	srv := httptest.NewServer(collector.New(st, collector.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	secret, err := st.CreateToken(context.Background(), "probe-1")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, m := range storetest.Sample(time.Now()) {
		b, _ := json.Marshal(m)
		lines = append(lines, string(b))
	}
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/measurements", strings.NewReader(strings.Join(lines, "\n")))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("ingest: %d %s", resp.StatusCode, body)
	}
	if _, _, page := fetch(t, srv.URL+"/"); !strings.Contains(page, storetest.TargetMITM) {
		t.Error("ingested blocked target not on the overview")
	}
	if code, _, js := fetch(t, srv.URL+"/api/v1/targets"); code != 200 || !strings.Contains(js, storetest.TargetMITM) {
		t.Errorf("API targets: %d", code)
	}
	_, _, metrics := fetch(t, srv.URL+"/metrics")
	if !strings.Contains(metrics, "firewatch_measurements_ingested_total 13") {
		t.Errorf("ingest counter not 13:\n%s", metrics)
	}
	if !strings.Contains(metrics, `route="POST /api/v1/measurements"`) {
		t.Error("ingest route not counted")
	}
}
