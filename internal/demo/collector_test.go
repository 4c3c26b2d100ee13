package demo

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/model"
)

func startTestCollector(t *testing.T, listen string) *Collector {
	t.Helper()
	c, err := StartCollector(context.Background(), t.TempDir(), listen, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return c
}

// TestCollectorUpload goes through the real upload path (spool, batches,
// token, ingest) into the store, twice with the same records: nothing is
// stored twice, and the spool is empty after each upload.
func TestCollectorUpload(t *testing.T) {
	c := startTestCollector(t, "127.0.0.1:0")
	ctx := context.Background()
	ms := seedRecords()
	r, err := c.Upload(ctx, ms)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != len(ms) || r.Inserted != len(ms) || r.Stored != len(ms) || len(r.Rejected) != 0 {
		t.Errorf("first upload: %+v, want %d sent, inserted and stored", r, len(ms))
	}
	if n := c.up.Spool.Len(); n != 0 {
		t.Errorf("%d records left in the spool", n)
	}
	r, err = c.Upload(ctx, ms)
	if err != nil {
		t.Fatal(err)
	}
	if r.Inserted != 0 || r.Stored != len(ms) {
		t.Errorf("second upload: %+v, want 0 inserted, %d stored", r, len(ms))
	}

	// The dashboard and API answer on the URL given.
	resp, err := http.Get(c.URL + "api/v1/overview")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ov struct {
		Measurements int `json:"measurements"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ov); err != nil || ov.Measurements != len(ms) {
		t.Errorf("overview: %+v (%v), want %d measurements", ov, err, len(ms))
	}
}

// TestCollectorRejects: a record the collector refuses is reported with its
// reason, and the good ones are stored.
func TestCollectorRejects(t *testing.T) {
	c := startTestCollector(t, "127.0.0.1:0")
	bad := rec("bad", "http://a.example/", model.StatusOK, 0)
	bad.Methods = []string{"dns.magic"}
	r, err := c.Upload(context.Background(), []*model.Measurement{rec("good", "http://b.example/", model.StatusOK, 0), bad})
	if err != nil {
		t.Fatal(err)
	}
	if r.Stored != 1 || len(r.Rejected) != 1 || !strings.Contains(r.Rejected[0], "dns.magic") {
		t.Errorf("got %+v, want 1 stored and the reason naming dns.magic", r)
	}
}

// TestCollectorBusyPort: when the address asked for is taken, another port
// of the same host is chosen and reported.
func TestCollectorBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := startTestCollector(t, ln.Addr().String())
	if c.Busy != ln.Addr().String() {
		t.Errorf("Busy = %q, want %q", c.Busy, ln.Addr())
	}
	if c.URL == "http://"+ln.Addr().String()+"/" || !strings.HasPrefix(c.URL, "http://127.0.0.1:") {
		t.Errorf("URL = %q, want another port on 127.0.0.1", c.URL)
	}
	resp, err := http.Get(c.URL + "healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz: %s", resp.Status)
	}
}

func TestDashboardURL(t *testing.T) {
	tests := []struct {
		addr *net.TCPAddr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, "http://127.0.0.1:8080/"},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 80}, "http://127.0.0.1:80/"},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "http://127.0.0.1:8080/"},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 1}, "http://[::1]:1/"},
	}
	for _, tt := range tests {
		if got := dashboardURL(tt.addr); got != tt.want {
			t.Errorf("dashboardURL(%v) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}
