package upload

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/collector/ingest"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store"
	"github.com/firewatch/firewatch/internal/store/sample"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func rec(i int) *model.Measurement {
	return sample.Measurement(fmt.Sprintf("m%03d", i), "https://news.example/", "CN", 4134, t0.Add(time.Duration(i)*time.Minute), model.StatusOK)
}

// collector is a real ingest handler on SQLite behind a switch that can
// make it look down.
type collector struct {
	st     store.Store
	secret string
	srv    *httptest.Server
	down   atomic.Bool
	// dropAck, when > 0, stores a batch but then kills the connection
	// before the response (a collector restarting mid-upload).
	dropAck atomic.Int32
	posts   atomic.Int32
}

func newCollector(t *testing.T) *collector {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	secret, _ := st.CreateToken(context.Background(), "probe")
	c := &collector{st: st, secret: secret}
	h := ingest.Handler(st, ingest.Options{Rate: 1000, Burst: 1000})
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.posts.Add(1)
		if c.down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		if c.dropAck.Load() > 0 {
			c.dropAck.Add(-1)
			h.ServeHTTP(httptest.NewRecorder(), r) // stored...
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close() // ...but the response is lost
			}
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) stored(t *testing.T) (n int, tests int) {
	t.Helper()
	rows, err := c.st.Measurements(context.Background(), store.Filter{}, store.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := c.st.TargetStates(context.Background(), "https://news.example/")
	for _, s := range ts {
		tests += s.Tests
	}
	return len(rows), tests
}

func newUploader(t *testing.T, c *collector, batch int) *Uploader {
	t.Helper()
	sp, err := OpenSpool(filepath.Join(t.TempDir(), "spool"))
	if err != nil {
		t.Fatal(err)
	}
	return &Uploader{URL: c.srv.URL, Token: c.secret, Spool: sp, Batch: batch,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Poll: 10 * time.Millisecond, Logf: t.Logf}
}

func TestSpoolAtomic(t *testing.T) {
	dir := t.TempDir()
	sp, err := OpenSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := sp.Put(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if tmps, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(tmps) != 0 {
		t.Errorf("Put left temporary files %v", tmps)
	}
	sp, _ = OpenSpool(dir)
	names, _ := sp.List()
	if len(names) != 3 || !strings.Contains(names[0], "m000") || !strings.Contains(names[2], "m002") {
		t.Errorf("names %v", names)
	}
}

// TestSpoolRecover: on open, a temporary file a dead writer left holding a
// whole record is kept (the crash came between write and rename), a partial
// one is removed, and one of a live process sharing the spool is left alone.
func TestSpoolRecover(t *testing.T) {
	whole, err := json.Marshal(rec(7))
	if err != nil {
		t.Fatal(err)
	}
	dead := deadPID(t)
	cases := []struct {
		name     string
		file     string
		body     []byte
		kept     bool // renamed into the spool
		leftOver bool // still there as a temporary file
	}{
		{"whole record, dead writer", fmt.Sprintf(".tmp-%d-1", dead), whole, true, false},
		{"whole record, old name without pid", ".tmp-123", whole, true, false},
		{"whole record, our pid (a dead predecessor's)", fmt.Sprintf(".tmp-%d-2", os.Getpid()), whole, true, false},
		{"cut write", fmt.Sprintf(".tmp-%d-3", dead), whole[:len(whole)/2], false, false},
		{"empty file", fmt.Sprintf(".tmp-%d-4", dead), nil, false, false},
		{"valid JSON without an id", fmt.Sprintf(".tmp-%d-5", dead), []byte(`{"target":"x"}`), false, false},
		{"trailing garbage", fmt.Sprintf(".tmp-%d-6", dead), append(append([]byte{}, whole...), "}x"...), false, false},
		{"live writer", fmt.Sprintf(".tmp-%d-7", os.Getppid()), whole[:10], false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, c.file), c.body, 0o600); err != nil {
				t.Fatal(err)
			}
			sp, err := OpenSpool(dir)
			if err != nil {
				t.Fatal(err)
			}
			names, _ := sp.List()
			if got := len(names) == 1 && strings.Contains(names[0], "m007"); got != c.kept || sp.Recovered != len(names) {
				t.Errorf("spool %v (Recovered %d), want the record kept: %v", names, sp.Recovered, c.kept)
			}
			if _, err := os.Stat(filepath.Join(dir, c.file)); (err == nil) != c.leftOver {
				t.Errorf("temporary file still there: %v, want %v", err == nil, c.leftOver)
			}
			if c.kept {
				b, _ := sp.Read(names[0])
				if string(b) != string(whole) {
					t.Errorf("recovered %q, want %q", b, whole)
				}
			}
		})
	}
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	return cmd.Process.Pid
}

// TestCollectorDownThenUp: records spooled while the collector is down are
// all uploaded once it is back; nothing lost, nothing stored twice.
func TestCollectorDownThenUp(t *testing.T) {
	c := newCollector(t)
	u := newUploader(t, c, 4)
	c.down.Store(true)
	for i := 0; i < 10; i++ {
		u.Spool.Put(rec(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	if err := u.Flush(ctx); err == nil {
		t.Fatal("Flush succeeded while the collector was down")
	}
	cancel()
	if u.Spool.Len() != 10 {
		t.Fatalf("spool has %d records after failures, want 10", u.Spool.Len())
	}
	go func() { time.Sleep(50 * time.Millisecond); c.down.Store(false) }()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := u.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n, tests := c.stored(t); n != 10 || tests != 10 || u.Spool.Len() != 0 {
		t.Errorf("stored %d (tests %d), spool %d; want 10, 10, 0", n, tests, u.Spool.Len())
	}
	if c.posts.Load() < 4 {
		t.Errorf("only %d posts: no retries?", c.posts.Load())
	}
}

// TestCollectorRestartMidUpload: the collector stores a batch but the
// acknowledgement is lost; the uploader sends it again, the collector counts
// duplicates, and every record is stored exactly once.
func TestCollectorRestartMidUpload(t *testing.T) {
	c := newCollector(t)
	u := newUploader(t, c, 5)
	for i := 0; i < 12; i++ {
		u.Spool.Put(rec(i))
	}
	c.dropAck.Store(2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := u.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n, tests := c.stored(t); n != 12 || tests != 12 || u.Spool.Len() != 0 {
		t.Errorf("stored %d (history tests %d), spool %d; want 12, 12, 0", n, tests, u.Spool.Len())
	}
}

// TestRejectIsolation: a batch with bad records is not retried forever; the
// bad records go to rejected/ with the collector's reason, the good ones are
// stored.
func TestRejectIsolation(t *testing.T) {
	c := newCollector(t)
	u := newUploader(t, c, 10)
	for i := 0; i < 8; i++ {
		m := rec(i)
		if i == 2 || i == 6 {
			m.Status = "censored"
		}
		u.Spool.Put(m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := u.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.stored(t); n != 6 || u.Spool.Len() != 0 {
		t.Errorf("stored %d, spool %d; want 6, 0", n, u.Spool.Len())
	}
	rej, _ := u.Spool.Rejected()
	if len(rej) != 2 || !strings.Contains(rej[0], "m002") || !strings.Contains(rej[1], "m006") {
		t.Fatalf("rejected %v, want m002 and m006", rej)
	}
	reason, _ := os.ReadFile(filepath.Join(u.Spool.Dir, RejectedDir, rej[0]+".error"))
	if !strings.Contains(string(reason), `m002: status: `) {
		t.Errorf("reason %q does not name the field", reason)
	}
	if st := u.Stats(); st != (Stats{Uploaded: 6, Rejected: 2}) {
		t.Errorf("stats %+v, want 6 uploaded, 2 rejected", st)
	}
	want := "6 uploaded, 2 refused as invalid: kept in " + filepath.Join(u.Spool.Dir, RejectedDir) + " with the reason beside each"
	if got := u.Status(); got != want {
		t.Errorf("status %q, want %q", got, want)
	}
}

// TestRejectOversized: a record the collector refuses as too large (413 for
// a batch of one) is rejected, not retried forever; the batch around it is
// stored.
func TestRejectOversized(t *testing.T) {
	c := newCollector(t)
	h := ingest.Handler(c.st, ingest.Options{MaxBodyBytes: 64 << 10, Rate: 1000, Burst: 1000})
	c.srv.Config.Handler = h
	u := newUploader(t, c, 10)
	for i := 0; i < 5; i++ {
		m := rec(i)
		if i == 3 {
			m.Target = "https://news.example/" + strings.Repeat("x", 200<<10)
		}
		u.Spool.Put(m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := u.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := u.Stats(); st.Uploaded != 4 || st.Rejected != 1 {
		t.Errorf("stats %+v, want 4 uploaded, 1 rejected", st)
	}
	rej, _ := u.Spool.Rejected()
	if len(rej) != 1 || !strings.Contains(rej[0], "m003") {
		t.Errorf("rejected %v, want m003", rej)
	}
}

func TestSink(t *testing.T) {
	c := newCollector(t)
	u := newUploader(t, c, 3)
	s := NewSink(context.Background(), u)
	for i := 0; i < 7; i++ {
		if err := s.Write(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.stored(t); n != 7 || u.Spool.Len() != 0 {
		t.Errorf("stored %d, spool %d; want 7, 0", n, u.Spool.Len())
	}
	u2 := &Uploader{URL: "ftp://x", Spool: u.Spool}
	if err := u2.Flush(context.Background()); err == nil {
		t.Error("bad URL accepted")
	}
}

// TestCollectorProcessRestart: the collector's listener is really gone
// (connection refused) while records are spooled, then a new server comes
// up on the same address with the same database.
func TestCollectorProcessRestart(t *testing.T) {
	c := newCollector(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	u := newUploader(t, c, 3)
	u.URL = "http://" + addr
	for i := 0; i < 7; i++ {
		u.Spool.Put(rec(i))
	}
	restarted := make(chan *http.Server, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			restarted <- nil
			return
		}
		srv := &http.Server{Handler: ingest.Handler(c.st, ingest.Options{})}
		go srv.Serve(ln)
		restarted <- srv
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := u.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if srv := <-restarted; srv != nil {
		srv.Close()
	} else {
		t.Skip("could not listen again on the same port")
	}
	if n, tests := c.stored(t); n != 7 || tests != 7 || u.Spool.Len() != 0 {
		t.Errorf("stored %d (tests %d), spool %d; want 7, 7, 0", n, tests, u.Spool.Len())
	}
}

// TestSinkBatchesUnderRateLimit: a probe spooling records one at a time
// sends batches, not one request per record, and a collector that answers
// 429 with Retry-After is retried after that delay, not after a growing
// backoff: everything is stored within seconds.
func TestSinkBatchesUnderRateLimit(t *testing.T) {
	c := newCollector(t)
	h := ingest.Handler(c.st, ingest.Options{Rate: 2, Burst: 1})
	var posts, limited atomic.Int32
	c.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code == http.StatusTooManyRequests {
			limited.Add(1)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
	u := newUploader(t, c, 500)
	u.Linger, u.MaxBackoff = 200*time.Millisecond, time.Minute
	s := NewSink(context.Background(), u)
	start := time.Now()
	for i := 0; i < 100; i++ {
		if err := s.Write(rec(i)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	n, _ := c.stored(t)
	if n != 100 || u.Spool.Len() != 0 {
		t.Errorf("stored %d, spool %d; want 100, 0", n, u.Spool.Len())
	}
	if p := posts.Load(); p > 20 {
		t.Errorf("%d requests for 100 records spooled one by one (%d refused with 429): not batched", p, limited.Load())
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("took %v", d)
	}
	t.Logf("%d requests, %d answered 429, %v", posts.Load(), limited.Load(), time.Since(start).Round(time.Millisecond))
}

// TestRejectOutOfBounds: a record beyond a bound of the record format (here
// 600 steps, at most 512) is refused by the collector naming the field; the
// uploader moves it to rejected/ with that reason, stores the others, and
// does not send it again.
func TestRejectOutOfBounds(t *testing.T) {
	c := newCollector(t)
	u := newUploader(t, c, 10)
	for i := 0; i < 4; i++ {
		m := rec(i)
		if i == 1 {
			for len(m.Steps) < 600 {
				m.Steps = append(m.Steps, m.Steps[0])
			}
		}
		u.Spool.Put(m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := u.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	posts := c.posts.Load()
	if err := u.Flush(ctx); err != nil || c.posts.Load() != posts {
		t.Errorf("a second flush sent %d requests (%v), want none", c.posts.Load()-posts, err)
	}
	rej, _ := u.Spool.Rejected()
	if n, _ := c.stored(t); n != 3 || len(rej) != 1 || !strings.Contains(rej[0], "m001") {
		t.Fatalf("stored %d, rejected %v; want 3 and m001", n, rej)
	}
	reason, _ := os.ReadFile(filepath.Join(u.Spool.Dir, RejectedDir, rej[0]+".error"))
	if !strings.Contains(string(reason), "steps") || !strings.Contains(string(reason), "512") {
		t.Errorf("reason %q does not name the field and its bound", reason)
	}
}
