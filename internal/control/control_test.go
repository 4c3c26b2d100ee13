package control

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/probe/probetest"
	"github.com/miekg/dns"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/netx"
	"github.com/firewatch/firewatch/internal/probe"
	"github.com/firewatch/firewatch/internal/target"
)

// fakeProbe answers every target with a record whose DNS step says answer.
type fakeProbe struct {
	calls  atomic.Int32
	answer string
	mu     sync.Mutex
	extra  []string
}

func (f *fakeProbe) Measure(ctx context.Context, t target.Target, extra probe.Extra) *model.Measurement {
	f.calls.Add(1)
	f.mu.Lock()
	f.extra = extra.Addrs
	f.mu.Unlock()
	ans := f.answer
	if ans == "" {
		ans = "203.0.113.40"
	}
	return &model.Measurement{Schema: model.SchemaVersion, Target: t.String(), Vantage: "control", Steps: []model.Step{{
		Operation: model.OpDNSRoundTrip, Hostname: t.Host,
		DNS: &model.DNSData{Resolver: "udp://192.0.2.53:53", QueryType: "A", Responses: []model.DNSResponse{
			{Rcode: "NOERROR", Answers: []model.DNSAnswer{{Name: t.Host, Type: "A", Value: ans}}}}},
	}}}
}

func newTest(t *testing.T, cfg Config) (*Client, *Server, *fakeProbe) {
	t.Helper()
	fp, _ := cfg.Probe.(*fakeProbe)
	if cfg.Probe == nil {
		fp = &fakeProbe{}
		cfg.Probe = fp
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &Client{URL: ts.URL, Token: cfg.Token, HTTP: ts.Client()}, s, fp
}

func mustTarget(t *testing.T, s string) target.Target {
	t.Helper()
	ts, err := target.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return ts[0]
}

func TestWhoAmI(t *testing.T) {
	c, _, _ := newTest(t, Config{})
	a, err := c.WhoAmI(context.Background())
	if err != nil || a != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("WhoAmI = %v, %v; want 127.0.0.1", a, err)
	}
}

func TestMeasure(t *testing.T) {
	c, _, fp := newTest(t, Config{Lab: true})
	m, err := c.Measure(context.Background(), mustTarget(t, "https://www.example.com/"), []string{"203.0.113.50", "198.51.100.7:443"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Vantage != "control" || m.Target != "https://www.example.com/" {
		t.Errorf("measurement: vantage %q target %q", m.Vantage, m.Target)
	}
	if got := strings.Join(fp.extra, ","); got != "203.0.113.50,198.51.100.7" {
		t.Errorf("extra addrs = %q", got)
	}
}

func TestToken(t *testing.T) {
	c, _, _ := newTest(t, Config{Token: "s3cret"})
	if _, err := c.WhoAmI(context.Background()); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	c.Token = "wrong"
	_, err := c.WhoAmI(context.Background())
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
		t.Fatalf("wrong token: err = %v, want 401", err)
	}
	c.Token = ""
	if _, err := c.Measure(context.Background(), mustTarget(t, "https://www.example.com/"), nil); !errors.As(err, &se) || se.Code != 401 {
		t.Fatalf("no token: err = %v, want 401", err)
	}
}

func TestRateLimit(t *testing.T) {
	c, _, _ := newTest(t, Config{Rate: 0.001, Burst: 2})
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := c.WhoAmI(ctx); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	// The client waits (Retry-After: 1 s) and retries; stop it after the first wait.
	ctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	_, err := c.WhoAmI(ctx)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusTooManyRequests || se.RetryAfter != time.Second {
		t.Fatalf("third request: err = %v, want 429 with Retry-After 1s", err)
	}
}

func TestRateLimitRetry(t *testing.T) {
	// 20 requests per second, burst 1: the client rides over the 429s.
	c, _, _ := newTest(t, Config{Rate: 20, Burst: 1})
	for i := 0; i < 3; i++ {
		if _, err := c.WhoAmI(context.Background()); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
}

func TestCache(t *testing.T) {
	c, s, fp := newTest(t, Config{Lab: true})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	s.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ctx := context.Background()
	req := MeasureRequest{Target: "https://www.example.com/", Addrs: []string{"1.2.3.4", "5.6.7.8"}}
	r1, err := c.MeasureRequest(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	req.Addrs = []string{"5.6.7.8", "1.2.3.4"} // same set, other order
	r2, err := c.MeasureRequest(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if fp.calls.Load() != 1 || r1.Cached || !r2.Cached {
		t.Fatalf("calls %d, cached %v %v; want 1 call, second cached", fp.calls.Load(), r1.Cached, r2.Cached)
	}
	mu.Lock()
	now = now.Add(DefaultCacheTTL + time.Second)
	mu.Unlock()
	if _, err := c.MeasureRequest(ctx, req); err != nil || fp.calls.Load() != 2 {
		t.Fatalf("after the TTL: calls %d, err %v; want a new measurement", fp.calls.Load(), err)
	}
}

func TestRefusal(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		cfg  Config
		req  MeasureRequest
		want int
	}{
		{"private target", Config{}, MeasureRequest{Target: "http://10.1.2.3/"}, 403},
		{"loopback target", Config{Lab: true}, MeasureRequest{Target: "http://127.0.0.1:8080/"}, 403},
		{"private addr", Config{}, MeasureRequest{Target: "https://www.example.com/", Addrs: []string{"192.168.1.1"}}, 403},
		{"testnet addr without lab", Config{}, MeasureRequest{Target: "https://www.example.com/", Addrs: []string{"203.0.113.5"}}, 403},
		{"testnet addr with lab", Config{Lab: true}, MeasureRequest{Target: "https://www.example.com/", Addrs: []string{"203.0.113.5"}}, 200},
		{"name resolving to private", Config{Probe: &fakeProbe{answer: "10.0.0.5"}}, MeasureRequest{Target: "https://intranet.example.com/"}, 403},
		{"name resolving to testnet, lab", Config{Lab: true}, MeasureRequest{Target: "https://www.example.com/"}, 200},
		{"name resolving to testnet, no lab", Config{}, MeasureRequest{Target: "https://www.example.com/"}, 403},
		{"private resolver", Config{}, MeasureRequest{Target: "https://www.example.com/", Resolvers: []string{"udp://10.0.0.53:53"}}, 403},
		{"IPv4-compatible loopback target", Config{Probe: &fakeProbe{answer: "8.8.8.8"}}, MeasureRequest{Target: "http://[::127.0.0.1]/"}, 403},
		{"IPv4-mapped loopback target", Config{Probe: &fakeProbe{answer: "8.8.8.8"}}, MeasureRequest{Target: "http://[::ffff:127.0.0.1]/"}, 403},
		{"NAT64 loopback target", Config{Probe: &fakeProbe{answer: "8.8.8.8"}}, MeasureRequest{Target: "http://[64:ff9b::7f00:1]/"}, 403},
		{"NAT64 loopback target, lab", Config{Lab: true, AllowLoopback: true}, MeasureRequest{Target: "http://[64:ff9b::7f00:1]/"}, 403},
		{"local-use NAT64 target", Config{Probe: &fakeProbe{answer: "8.8.8.8"}}, MeasureRequest{Target: "http://[64:ff9b:1::808:808]/"}, 403},
		{"6to4 loopback target", Config{Probe: &fakeProbe{answer: "8.8.8.8"}}, MeasureRequest{Target: "http://[2002:7f00:1::]/"}, 403},
		{"Teredo loopback client", Config{Probe: &fakeProbe{answer: "8.8.8.8"}}, MeasureRequest{Target: "http://[2001:0:808:808::80ff:fffe]/"}, 403},
		{"NAT64 metadata addr", Config{Probe: &fakeProbe{answer: "8.8.8.8"}}, MeasureRequest{Target: "https://www.example.com/", Addrs: []string{"64:ff9b::169.254.169.254"}}, 403},
		{"6to4 private resolver", Config{Probe: &fakeProbe{answer: "8.8.8.8"}}, MeasureRequest{Target: "https://www.example.com/", Resolvers: []string{"udp://[2002:a00:35::1]:53"}}, 403},
		{"NAT64 public target", Config{Probe: &fakeProbe{answer: "8.8.8.8"}}, MeasureRequest{Target: "http://[64:ff9b::808:808]/"}, 200},
		{"bad addr", Config{}, MeasureRequest{Target: "https://www.example.com/", Addrs: []string{"nope"}}, 400},
		{"bare domain", Config{}, MeasureRequest{Target: "www.example.com"}, 400},
		{"bad scheme", Config{}, MeasureRequest{Target: "gopher://www.example.com/"}, 400},
		{"doh resolver", Config{}, MeasureRequest{Target: "https://www.example.com/", Resolvers: []string{"https://dns.example/dns-query"}}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, _ := newTest(t, tt.cfg)
			_, err := c.MeasureRequest(ctx, tt.req)
			code := 200
			var se *StatusError
			if errors.As(err, &se) {
				code = se.Code
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.want {
				t.Errorf("code %d (%v), want %d", code, err, tt.want)
			}
		})
	}
}

func TestMetricsAndHealth(t *testing.T) {
	c, _, _ := newTest(t, Config{})
	if _, err := c.WhoAmI(context.Background()); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{PathMetrics: `firewatch_control_requests_total{code="200",path="/v1/whoami"} 1`, PathHealth: "ok"} {
		resp, err := c.HTTP.Get(c.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), want) {
			t.Errorf("%s: missing %q in\n%s", path, want, b)
		}
	}
}

// TestResolverCheck: a closed port refuses DNS; a server answers.
func TestResolverCheck(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := pc.LocalAddr().String()
	pc.Close()

	served := probetest.ServeDNS(t, func(w dns.ResponseWriter, r *dns.Msg) { w.WriteMsg(probetest.Reply(r, "203.0.113.40")) })

	c, _, _ := newTest(t, Config{AllowLoopback: true, Lab: true})
	resp, err := c.MeasureRequest(context.Background(), MeasureRequest{Target: "https://www.example.com/",
		Resolvers: []string{"udp://" + closed, "udp://" + served}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range resp.Measurement.Steps {
		if s.DNS != nil && s.Address != "" {
			f := ""
			if s.Failure != nil {
				f = *s.Failure
			}
			got = append(got, f+"/"+string(rune('0'+len(s.DNS.Responses))))
		}
	}
	if len(got) != 2 || got[0] != failure.ConnectionRefused+"/0" || got[1] != "/1" {
		t.Errorf("resolver steps = %v, want [connection_refused/0 /1]", got)
	}
}

// realControl is a control measuring with the real probe, loopback allowed.
func realControl(t *testing.T) *Client {
	t.Helper()
	p, err := probe.New(probe.Config{Network: &netx.Network{Routable: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		Vantage: "control", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c, _, _ := newTest(t, Config{Probe: p, AllowLoopback: true})
	return c
}

// TestRealProbe measures a loopback HTTP server through the real probe.
func TestRealProbe(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html><title>Hello</title></html>")
	}))
	t.Cleanup(web.Close)
	c := realControl(t)
	m, err := c.Measure(context.Background(), mustTarget(t, web.URL+"/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ok := false
	for _, s := range m.Steps {
		if s.HTTP != nil && s.Failure == nil && s.HTTP.Title == "Hello" {
			ok = true
		}
	}
	if !ok || m.Vantage != "control" {
		t.Errorf("no successful HTTP step with the title in %+v", m.Steps)
	}
}

// BenchmarkMeasureCached is one measure request answered from the cache,
// over loopback HTTP: the control's own overhead per probe request.
func BenchmarkMeasureCached(b *testing.B) {
	s, err := NewServer(Config{Probe: &fakeProbe{}, Lab: true, Rate: 1e9, Burst: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	c := &Client{URL: ts.URL, HTTP: ts.Client()}
	req := MeasureRequest{Target: "https://www.example.com/", Addrs: []string{"203.0.113.50"}}
	ctx := context.Background()
	if _, err := c.MeasureRequest(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.MeasureRequest(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzMeasureRequest sends arbitrary bodies to POST /v1/measure: the server
// must answer 200, 400 or 403, never panic.
func FuzzMeasureRequest(f *testing.F) {
	f.Add(`{"target":"https://www.example.com/","addrs":["203.0.113.5"]}`)
	f.Add(`{"target":"http://10.0.0.1/"}`)
	f.Add(`{"target":"imap://mail.example.com","resolvers":["udp://203.0.113.99:53"]}`)
	f.Add(`{"target":"","addrs":[""]}`)
	f.Add(`not json`)
	s, err := NewServer(Config{Probe: &fakeProbe{}, Lab: true, Rate: 1e9, Burst: 1 << 30, DNSTimeout: time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		if strings.Contains(body, "resolvers") {
			return // would send DNS queries to whatever the fuzzer names
		}
		req := httptest.NewRequest(http.MethodPost, PathMeasure, strings.NewReader(body))
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 400, 403:
		default:
			t.Fatalf("code %d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}

// TestMaxAddrs: the client sends at most MaxAddrs of a probe's addresses,
// and the control dials at most its probe's MaxAddrs of them and its own
// answers together, writing how many it left out.
func TestMaxAddrs(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(web.Close)
	c := realControl(t)
	var addrs []string
	for i := range 3500 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{127, 3, byte(i >> 8), byte(i)}).String())
	}
	m, err := c.Measure(context.Background(), mustTarget(t, web.URL+"/"), addrs)
	if err != nil {
		t.Fatal(err)
	}
	own := web.Listener.Addr().String()
	var connects, on443 []string
	for _, s := range m.Steps {
		switch {
		case s.Operation != model.OpConnect:
		case strings.HasSuffix(s.Address, ":443"):
			on443 = append(on443, s.Address) // the probe's addresses among them, checked for a certificate
		default:
			connects = append(connects, s.Address)
		}
	}
	if len(on443) != probe.DefaultMaxAddrs-1 {
		t.Errorf("connects on 443 %v, want the %d of the probe's addresses dialed", on443, probe.DefaultMaxAddrs-1)
	}
	if len(connects) != probe.DefaultMaxAddrs || connects[0] != own || m.AddrsNotTried != MaxAddrs+1-probe.DefaultMaxAddrs {
		t.Errorf("connects %v, %d not tried; want %d starting with %s, %d not tried", connects, m.AddrsNotTried,
			probe.DefaultMaxAddrs, own, MaxAddrs+1-probe.DefaultMaxAddrs)
	}
}
