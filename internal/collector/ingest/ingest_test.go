package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
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

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func rec(id string) *model.Measurement {
	return sample.Measurement(id, "https://news.example/", "CN", 4134, t0, model.StatusBlocked, model.MethodTCPReset)
}

type fixture struct {
	st     store.Store
	srv    *httptest.Server
	secret string
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	secret, err := st.CreateToken(context.Background(), "probe")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(st, opts))
	t.Cleanup(srv.Close)
	return &fixture{st: st, srv: srv, secret: secret}
}

func (f *fixture) post(t *testing.T, body []byte, hdr ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+f.secret)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func jsonl(ms ...*model.Measurement) []byte {
	var b bytes.Buffer
	for _, m := range ms {
		j, _ := json.Marshal(m)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func count(t *testing.T, st store.Store) int {
	t.Helper()
	rows, err := st.Measurements(context.Background(), store.Filter{}, store.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(rows)
}

func TestIngestFormatsAndDuplicates(t *testing.T) {
	f := newFixture(t, Options{})
	arr, _ := json.Marshal([]*model.Measurement{rec("a"), rec("b")})
	for _, tc := range []struct {
		name     string
		body     []byte
		hdr      []string
		inserted int
		dups     int
	}{
		{"json array", arr, nil, 2, 0},
		{"json lines with a duplicate", jsonl(rec("a"), rec("c"), rec("c")), nil, 1, 2},
		{"gzip json lines", gz(jsonl(rec("d"), rec("b"))), []string{"Content-Encoding", "gzip"}, 1, 1},
		{"blank lines", append([]byte("\n\n"), jsonl(rec("e"))...), nil, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := f.post(t, tc.body, tc.hdr...)
			if code != 200 || out["inserted"] != float64(tc.inserted) || out["duplicates"] != float64(tc.dups) ||
				out["accepted"] != float64(tc.inserted+tc.dups) {
				t.Errorf("got %d %v, want 200 inserted %d duplicates %d", code, out, tc.inserted, tc.dups)
			}
		})
	}
	if n := count(t, f.st); n != 5 {
		t.Errorf("stored %d, want 5", n)
	}
}

// TestIngestAllOrNothing: a bad record rejects the whole batch with a 400
// naming the record's index, id and field; nothing of the batch is stored.
func TestIngestAllOrNothing(t *testing.T) {
	f := newFixture(t, Options{})
	mut := func(fn func(m *model.Measurement)) *model.Measurement { m := rec("bad"); fn(m); return m }
	bad := "no_such_failure"
	for _, tc := range []struct {
		name  string
		body  []byte
		index float64
		field string
	}{
		{"status", jsonl(rec("g1"), mut(func(m *model.Measurement) { m.Status = "censored" })), 1, "status"},
		{"method", jsonl(mut(func(m *model.Measurement) { m.Methods = []string{"dns.magic"} })), 0, "methods[0]"},
		{"schema", jsonl(rec("g1"), rec("g2"), mut(func(m *model.Measurement) { m.Schema = "v0" })), 2, "schema"},
		{"id", jsonl(mut(func(m *model.Measurement) { m.ID = "" })), 0, "id"},
		{"target", jsonl(mut(func(m *model.Measurement) { m.Target = "news.example" })), 0, "target"},
		{"started_at", jsonl(mut(func(m *model.Measurement) { m.StartedAt = time.Time{} })), 0, "started_at"},
		{"operation", jsonl(mut(func(m *model.Measurement) { m.Steps[1].Operation = "ping" })), 0, "steps[1].operation"},
		{"failure", jsonl(mut(func(m *model.Measurement) { m.Steps[2].Failure = &bad })), 0, "steps[2].failure"},
		{"category", jsonl(mut(func(m *model.Measurement) { m.Category = "news\x00" })), 0, "category"},
		{"type", []byte(`{"schema":"firewatch.measurement/1","id":"x","status":5}`), 0, "status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := f.post(t, tc.body)
			if code != 400 || out["record"] != tc.index || out["field"] != tc.field {
				t.Errorf("got %d %v; want 400 naming record %v field %q", code, out, tc.index, tc.field)
			}
			if msg, _ := out["error"].(string); !strings.Contains(msg, fmt.Sprintf("record %v", tc.index)) {
				t.Errorf("error %q does not name the record", msg)
			}
		})
	}
	if n := count(t, f.st); n != 0 {
		t.Errorf("stored %d records of rejected batches, want 0", n)
	}
	code, out := f.post(t, []byte(`{"id": "x"`))
	if code != 400 || out["record"] != 0.0 {
		t.Errorf("truncated JSON: %d %v", code, out)
	}
}

func TestIngestLimits(t *testing.T) {
	f := newFixture(t, Options{MaxBodyBytes: 64 << 10, MaxRecords: 3})
	big := jsonl(rec("1"), rec("2"), rec("3"))
	big = append(big, bytes.Repeat([]byte(" "), 70<<10)...)
	if code, out := f.post(t, big); code != 413 {
		t.Errorf("oversized body: %d %v, want 413", code, out)
	}
	bomb := gz(append(jsonl(rec("1")), bytes.Repeat([]byte("\n"), 10<<20)...))
	if len(bomb) > 64<<10 {
		t.Fatalf("bomb of %d bytes is not small", len(bomb))
	}
	if code, out := f.post(t, bomb, "Content-Encoding", "gzip"); code != 413 {
		t.Errorf("gzip bomb: %d %v, want 413", code, out)
	}
	if code, out := f.post(t, jsonl(rec("1"), rec("2"), rec("3"), rec("4"))); code != 413 {
		t.Errorf("too many records: %d %v, want 413", code, out)
	}
	if code, _ := f.post(t, jsonl(rec("1"), rec("2"), rec("3"))); code != 200 {
		t.Errorf("records at the limit: %d, want 200", code)
	}
	if code, _ := f.post(t, jsonl(rec("1")), "Content-Encoding", "br"); code != 415 {
		t.Errorf("brotli: %d, want 415", code)
	}
	if code, _ := f.post(t, []byte("not gzip"), "Content-Encoding", "gzip"); code != 400 {
		t.Errorf("bad gzip: %d, want 400", code)
	}
	if n := count(t, f.st); n != 3 {
		t.Errorf("stored %d, want 3", n)
	}
}

func TestIngestAuth(t *testing.T) {
	f := newFixture(t, Options{})
	good := f.secret
	for _, tc := range []struct {
		name, secret string
	}{{"missing", ""}, {"wrong", "fw_nope"}} {
		f.secret = tc.secret
		if code, _ := f.post(t, jsonl(rec("a"))); code != 401 {
			t.Errorf("%s token: %d, want 401", tc.name, code)
		}
	}
	f.secret = good
	if code, _ := f.post(t, jsonl(rec("a"))); code != 200 {
		t.Errorf("good token: %d", code)
	}
	if err := f.st.RevokeToken(context.Background(), "probe"); err != nil {
		t.Fatal(err)
	}
	if code, _ := f.post(t, jsonl(rec("b"))); code != 401 {
		t.Errorf("revoked token: %d, want 401", code)
	}
	resp, err := http.Get(f.srv.URL)
	if err != nil || resp.StatusCode != 405 {
		t.Errorf("GET: %v %v, want 405", resp.StatusCode, err)
	}
}

func TestIngestRateLimit(t *testing.T) {
	f := newFixture(t, Options{Rate: 0.5, Burst: 2})
	var codes []int
	for i := 0; i < 3; i++ {
		code, _ := f.post(t, jsonl(rec(fmt.Sprint(i))))
		codes = append(codes, code)
	}
	if fmt.Sprint(codes) != "[200 200 429]" {
		t.Errorf("codes %v, want [200 200 429]", codes)
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		n          int
		err        string
	}{
		{"array", `[{"id":"a"},{"id":"b"}]`, 2, ""},
		{"empty array", `[]`, 0, ""},
		{"lines", "{\"id\":\"a\"}\n{\"id\":\"b\"}\n", 2, ""},
		{"empty", "  \n", 0, "empty body"},
		{"trailing garbage", `[{"id":"a"}] x`, 0, "after the array"},
		{"null", `[null]`, 0, "record 0: null record"},
		{"too many", `[{},{},{},{},{}]`, 0, "too many"},
		{"bad line", "{\"id\":\"a\"}\n{\"id\":", 0, "record 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := Parse([]byte(tc.body), 4)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || len(ms) != tc.n {
				t.Errorf("got %d records, %v; want %d", len(ms), err, tc.n)
			}
		})
	}
}

// maxFuzzBody bounds the bodies FuzzParse decodes. The seeds used to be
// whole sample records (3 KB each): every execution decoded and validated
// kilobytes, and each new input found took up to a minute to minimize, so
// the fuzzer managed 12 executions in 60 s. Small records reach every
// branch of Parse and Validate; the size limits have their own tests.
const maxFuzzBody = 2 << 10

// smallRecord is a valid record of one step, as short as the format allows.
const smallRecord = `{"schema":"firewatch.measurement/1","id":"a","target":"https://a.example/","started_at":"2026-03-01T10:00:00Z",` +
	`"vantage":"probe","probe":{"country":"CN","asn":4134},"status":"blocked","methods":["tcp.reset"],` +
	`"steps":[{"operation":"connect","address":"192.0.2.1:443","started_at":"2026-03-01T10:00:00Z","failure":"connection_reset"}]}`

// FuzzParse decodes and validates arbitrary bodies: records or an error,
// never a panic or a nil record.
func FuzzParse(f *testing.F) {
	f.Add([]byte(smallRecord))
	f.Add([]byte(smallRecord + "\n" + strings.Replace(smallRecord, `"id":"a"`, `"id":"b"`, 1) + "\n"))
	f.Add([]byte("[" + smallRecord + "]"))
	f.Add([]byte(strings.Replace(smallRecord, `"steps":[`, `"steps":[{"operation":"dns_round_trip","hostname":"a.example","started_at":"2026-03-01T10:00:00Z","failure":null,`+
		`"dns":{"resolver":"udp://192.0.2.53:53","query_type":"A","responses":[{"rcode":"NOERROR","answers":[{"name":"a.example","type":"A","value":"192.0.2.1","ttl":60}],"failure":null}]}},`, 1)))
	f.Add([]byte(`[{"id":1},null]`))
	f.Add([]byte("{\"steps\":[{\"failure\":\"x\"}]}\n{"))
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > maxFuzzBody {
			return
		}
		ms, err := Parse(body, 100)
		if err != nil {
			return
		}
		for _, m := range ms {
			if m == nil {
				t.Fatal("nil record without error")
			}
			_ = Validate(m)
		}
	})
}
