package api

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store"
	"github.com/firewatch/firewatch/internal/store/sample"
)

func setup(t *testing.T) (*httptest.Server, store.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now().UTC()
	var ms []*model.Measurement
	for i := 0; i < 30; i++ {
		target := "https://news.example/"
		status, methods := model.StatusBlocked, []string{model.MethodDNSInjected}
		if i%3 == 0 {
			target, status, methods = "https://ok.example/", model.StatusOK, nil
		}
		ms = append(ms, sample.Measurement(fmt.Sprintf("m%02d", i), target, "CN", 4134, now.Add(time.Duration(i-30)*time.Minute), status, methods...))
	}
	ms[1].Category = "=HYPERLINK(\"x\")"
	if _, err := st.Insert(ctx, ms); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", Handler(st, Options{}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, st
}

func get(t *testing.T, srv *httptest.Server, path string, v any) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v in %s", path, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

func TestPagination(t *testing.T) {
	srv, _ := setup(t)
	var ids []string
	path := "/api/v1/measurements?limit=7"
	for pages := 0; pages < 10; pages++ {
		var l List[store.MeasurementRow]
		if code, body := get(t, srv, path, &l); code != 200 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		for _, r := range l.Items {
			ids = append(ids, r.ID)
		}
		if l.NextOffset == nil {
			break
		}
		path = fmt.Sprintf("/api/v1/measurements?limit=7&offset=%d", *l.NextOffset)
	}
	if len(ids) != 30 || ids[0] != "m29" || ids[29] != "m00" {
		t.Errorf("got %d ids %v", len(ids), ids)
	}
	var l List[store.MeasurementRow]
	get(t, srv, "/api/v1/measurements?method=dns.injected&country=cn&asn=AS4134", &l)
	if len(l.Items) != 20 {
		t.Errorf("filtered: %d rows, want 20", len(l.Items))
	}
}

func TestEndpoints(t *testing.T) {
	srv, _ := setup(t)
	var targets List[store.TargetState]
	get(t, srv, "/api/v1/targets?status=blocked", &targets)
	if len(targets.Items) != 1 || targets.Items[0].Target != "https://news.example/" || targets.Items[0].Status != "blocked" {
		t.Errorf("blocked targets %+v", targets.Items)
	}
	var ts TargetStates
	if code, body := get(t, srv, "/api/v1/targets/state?target=https://NEWS.example:443/", &ts); code != 200 || len(ts.States) != 1 || ts.States[0].Tests != 20 {
		t.Errorf("state: %d %s", code, body)
	}
	var tl Timeline
	if code, _ := get(t, srv, "/api/v1/timeline?days=7", &tl); code != 200 || len(tl.Days) != 7 {
		t.Errorf("timeline %d days", len(tl.Days))
	}
	var evs List[store.Event]
	get(t, srv, "/api/v1/events?target=https://news.example/", &evs)
	if len(evs.Items) != 1 || evs.Items[0].Kind != "blocked" {
		t.Errorf("events %+v", evs.Items)
	}
	var ov store.Overview
	if code, _ := get(t, srv, "/api/v1/overview", &ov); code != 200 || ov.Measurements != 30 || ov.ByMethod["dns.injected"] != 1 {
		t.Errorf("overview %+v", ov)
	}
	var m model.Measurement
	if code, _ := get(t, srv, "/api/v1/measurements/m05", &m); code != 200 || m.ID != "m05" || len(m.Steps) == 0 {
		t.Errorf("measurement %+v", m)
	}
	for path, want := range map[string]int{
		"/api/v1/measurements/nope":         404,
		"/api/v1/targets/state?target=x":    404,
		"/api/v1/targets/state":             400,
		"/api/v1/measurements?asn=x":        400,
		"/api/v1/measurements?limit=100000": 400,
		"/api/v1/events?since=yesterday":    400,
		"/api/v1/targets?method=dns.magic":  400,
		"/api/v1/export?format=xml":         400,
		"/api/v1/nothing":                   404,
	} {
		if code, body := get(t, srv, path, nil); code != want || !strings.Contains(body, `"error"`) {
			t.Errorf("%s: %d %s, want %d with an error body", path, code, body, want)
		}
	}
}

func TestExport(t *testing.T) {
	srv, _ := setup(t)
	code, body := get(t, srv, "/api/v1/export?format=csv&target=https://news.example/", nil)
	if code != 200 {
		t.Fatalf("csv: %d %s", code, body)
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(recs) != 21 || strings.Join(recs[0], ",") != strings.Join(CSVHeader, ",") {
		t.Fatalf("csv: %d rows, %v: %q", len(recs), err, body[:min(200, len(body))])
	}
	if recs[1][6] != "blocked" || recs[1][7] != "dns.injected" {
		t.Errorf("csv row %v", recs[1])
	}
	if !strings.Contains(body, `'=HYPERLINK`) {
		t.Errorf("formula not defused")
	}
	code, body = get(t, srv, "/api/v1/export?format=jsonl&limit=5", nil)
	if code != 200 {
		t.Fatalf("jsonl: %d", code)
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var m model.Measurement
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil || m.Schema != model.SchemaVersion {
			t.Fatalf("line %d: %v", n, err)
		}
		n++
	}
	if n != 5 {
		t.Errorf("jsonl: %d lines, want 5", n)
	}
}

func TestQueueTake(t *testing.T) {
	srv, st := setup(t)
	ctx := context.Background()
	secret, _ := st.CreateToken(ctx, "agent-1")
	st.Enqueue(ctx, "https://a.example/", "op")
	st.Enqueue(ctx, "https://b.example/", "op")
	take := func(secret, body string) (int, Take) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/queue/take", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out Take
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if code, _ := take("bad", ""); code != 401 {
		t.Errorf("bad token: %d", code)
	}
	if code, out := take(secret, `{"max": 5}`); code != 200 || len(out.Items) != 2 || out.Items[0].TakenBy != "agent-1" {
		t.Errorf("take: %d %+v", code, out)
	}
	if code, out := take(secret, ""); code != 200 || len(out.Items) != 0 {
		t.Errorf("empty take: %d %+v", code, out)
	}
}

// TestStalledExportIsCut: a client that stops reading holds its export's
// place only until one write has waited ExportStall; then the next export
// is served.
func TestStalledExportIsCut(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ms []*model.Measurement
	for i := range 300 { // 1.8 MB: more than the small socket buffers below hold
		m := sample.Measurement(fmt.Sprintf("m%04d", i), "https://news.example/", "CN", 4134, time.Now().Add(-time.Duration(i)*time.Second), model.StatusOK)
		m.Steps[4].HTTP.BodyHead = strings.Repeat("x", 4096)
		ms = append(ms, m)
	}
	if _, err := st.Insert(ctx, ms); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", Handler(st, Options{MaxExports: 1, ExportStall: time.Second}))
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	defer srv.Close()

	stalled, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	stalled.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(stalled, "GET /api/v1/export?format=jsonl HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReaderSize(stalled, 16), nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first export: %v %v", resp, err)
	}
	if code, _ := get(t, srv, "/api/v1/export?format=csv", nil); code != http.StatusTooManyRequests {
		t.Fatalf("second export while the first runs: %d, want 429", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(t, srv, "/api/v1/export?format=csv", nil)
		if code == 200 {
			if n := strings.Count(body, "\n"); n != 301 {
				t.Errorf("the export after the stalled one has %d lines, want 301", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stalled export still holds its place after 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// smallBuffers gives accepted connections small send buffers, so that a
// client that stops reading stalls the server's writes within kilobytes.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}
