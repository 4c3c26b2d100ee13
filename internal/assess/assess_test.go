package assess

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/control"
	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/geo"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/probe"
	"github.com/firewatch/firewatch/internal/target"
)

// fake measures by calling fn with the try number (0-based).
type fake struct {
	n  atomic.Int32
	fn func(try int, t target.Target) *model.Measurement
}

func (f *fake) Measure(ctx context.Context, t target.Target, extra probe.Extra) *model.Measurement {
	return f.fn(int(f.n.Add(1))-1, t)
}

func str(s string) *string { return &s }

// record builds a measurement of t: DNS (answer, or NXDOMAIN when ""), and
// an HTTP 200 when the address is known.
func record(t target.Target, vantage, answer string) *model.Measurement {
	m := &model.Measurement{Schema: model.SchemaVersion, Target: t.String(), Vantage: vantage,
		Resolvers: []string{"system"}, Status: model.StatusMeasured}
	dnsStep := model.Step{Operation: model.OpResolve, Hostname: t.Host, DNS: &model.DNSData{Resolver: "system", QueryType: "A"}}
	if answer == "" {
		dnsStep.Failure = str(failure.DNSNXDomain)
		dnsStep.DNS.Responses = []model.DNSResponse{{Rcode: "NXDOMAIN", Failure: str(failure.DNSNXDomain)}}
		m.Steps = append(m.Steps, dnsStep)
		return m
	}
	dnsStep.DNS.Responses = []model.DNSResponse{{Rcode: "NOERROR", Answers: []model.DNSAnswer{{Name: t.Host, Type: "A", Value: answer}}}}
	m.Steps = append(m.Steps, dnsStep,
		model.Step{Operation: model.OpConnect, Address: answer + ":80"},
		model.Step{Operation: model.OpHTTPRoundTrip, Address: answer + ":80",
			HTTP: &model.HTTPData{URL: t.String(), Method: "GET", Status: 200, Title: "Example", BodySHA256: "ab", BodyLength: 100}})
	return m
}

const table = "127.0.0.0\t127.255.255.255\t64999\tXA\tLOOPBACK-LAND\n203.0.113.0\t203.0.113.255\t64500\tUS\tEXAMPLE\n"

func setup(t *testing.T) (*control.Client, *fake, *geo.DB) {
	t.Helper()
	ctl := &fake{fn: func(_ int, tg target.Target) *model.Measurement { return record(tg, "control", "203.0.113.40") }}
	s, err := control.NewServer(control.Config{Probe: ctl, Lab: true})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	db, err := geo.Parse(strings.NewReader(table))
	if err != nil {
		t.Fatal(err)
	}
	return &control.Client{URL: ts.URL, HTTP: ts.Client()}, ctl, db
}

func tgt(t *testing.T) target.Target {
	t.Helper()
	ts, err := target.Parse("http://www.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	return ts[0]
}

func TestHealthy(t *testing.T) {
	c, _, db := setup(t)
	in := &fake{fn: func(_ int, tg target.Target) *model.Measurement { return record(tg, "probe", "203.0.113.40") }}
	a := &Assessor{Probe: in, Control: c, Geo: db}
	m := a.Assess(context.Background(), tgt(t))
	if m.Status != model.StatusOK || len(m.Methods) != 0 || m.Control == nil || m.Verdict.Weak {
		t.Fatalf("status %q methods %v control %v weak %v reason %q", m.Status, m.Methods, m.Control != nil, m.Verdict.Weak, m.Verdict.Reason)
	}
	if c := m.Verdict.Confidence; c == nil || c.Agreed != 1 || c.Tries != 1 {
		t.Errorf("confidence %+v, want 1 of 1", c)
	}
	if m.Probe.Country != "XA" || m.Probe.ASN != 64999 || m.Probe.Network != "LOOPBACK-LAND" {
		t.Errorf("probe info %+v, want XA/64999 from whoami+geo", m.Probe)
	}
	b, _ := json.Marshal(m)
	if strings.Contains(string(b), "127.0.0.1") {
		t.Errorf("the record holds the probe's address: %s", b)
	}
}

func TestBlockedRetested(t *testing.T) {
	c, _, db := setup(t)
	in := &fake{fn: func(_ int, tg target.Target) *model.Measurement { return record(tg, "probe", "") }}
	a := &Assessor{Probe: in, Control: c, Geo: db, RetestDelay: time.Millisecond}
	m := a.Assess(context.Background(), tgt(t))
	if m.Status != model.StatusBlocked || strings.Join(m.Methods, ",") != model.MethodDNSNXDomain {
		t.Fatalf("status %q methods %v", m.Status, m.Methods)
	}
	if c := m.Verdict.Confidence; c == nil || c.Agreed != 3 || c.Tries != 3 || in.n.Load() != 3 {
		t.Errorf("confidence %+v after %d measurements, want 3 of 3", c, in.n.Load())
	}
}

func TestFlakyMajority(t *testing.T) {
	c, _, db := setup(t)
	// Blocked on the first try only: the majority says ok, 2 of 3.
	in := &fake{fn: func(try int, tg target.Target) *model.Measurement {
		if try == 0 {
			return record(tg, "probe", "")
		}
		return record(tg, "probe", "203.0.113.40")
	}}
	a := &Assessor{Probe: in, Control: c, Geo: db, RetestDelay: time.Millisecond}
	m := a.Assess(context.Background(), tgt(t))
	if m.Status != model.StatusOK || m.Verdict.Confidence.Agreed != 2 || m.Verdict.Confidence.Tries != 3 {
		t.Fatalf("status %q confidence %+v, want ok 2 of 3", m.Status, m.Verdict.Confidence)
	}
}

func TestNoRetests(t *testing.T) {
	c, _, db := setup(t)
	in := &fake{fn: func(_ int, tg target.Target) *model.Measurement { return record(tg, "probe", "") }}
	a := &Assessor{Probe: in, Control: c, Geo: db, Retests: -1}
	if m := a.Assess(context.Background(), tgt(t)); m.Verdict.Confidence.Tries != 1 || in.n.Load() != 1 {
		t.Fatalf("tries %d, measurements %d; want 1", m.Verdict.Confidence.Tries, in.n.Load())
	}
}

func TestControlUnreachable(t *testing.T) {
	ts := httptest.NewServer(nil)
	url := ts.URL
	ts.Close() // nothing listens there any more
	in := &fake{fn: func(_ int, tg target.Target) *model.Measurement { return record(tg, "probe", "203.0.113.40") }}
	a := &Assessor{Probe: in, Control: &control.Client{URL: url}}
	m := a.Assess(context.Background(), tgt(t))
	// A control that was asked and did not answer: weak, error, never ok.
	if !m.Verdict.Weak || m.Status != model.StatusError || !strings.Contains(m.Verdict.Reason, "control failed") || m.Control != nil {
		t.Fatalf("weak %v status %q reason %q", m.Verdict.Weak, m.Status, m.Verdict.Reason)
	}
	if m.Probe.Country != geo.Unknown {
		t.Errorf("country %q, want ZZ", m.Probe.Country)
	}
}

func TestNoControl(t *testing.T) {
	in := &fake{fn: func(_ int, tg target.Target) *model.Measurement { return record(tg, "probe", "") }}
	a := &Assessor{Probe: in, RetestDelay: time.Millisecond}
	m := a.Assess(context.Background(), tgt(t))
	if !m.Verdict.Weak || m.Status != model.StatusError || !strings.Contains(m.Verdict.Reason, "no control") {
		t.Fatalf("weak %v status %q reason %q", m.Verdict.Weak, m.Status, m.Verdict.Reason)
	}
	weakBlocked := &fake{fn: func(_ int, tg target.Target) *model.Measurement {
		m := record(tg, "probe", "203.0.113.40")
		m.Steps[2].Failure, m.Steps[2].HTTP.Status = str(failure.ConnectionReset), 0
		return m
	}}
	a = &Assessor{Probe: weakBlocked, RetestDelay: time.Millisecond}
	if m := a.Assess(context.Background(), tgt(t)); m.Status != model.StatusBlocked || weakBlocked.n.Load() != 1 {
		t.Fatalf("weak blocked: status %q after %d tries, want blocked after 1 (no retests without a control)", m.Status, weakBlocked.n.Load())
	}
}

func TestResolvedAddrs(t *testing.T) {
	m := &model.Measurement{Steps: []model.Step{
		{Hostname: "a.example", DNS: &model.DNSData{Bogons: []string{"10.0.0.1"}, Responses: []model.DNSResponse{{Answers: []model.DNSAnswer{
			{Type: "AAAA", Value: "2001:db8::1"}, {Type: "A", Value: "203.0.113.1"}, {Type: "A", Value: "10.0.0.1"}, {Type: "CNAME", Value: "b.example"}}}}}},
		{Hostname: "other.example", DNS: &model.DNSData{Responses: []model.DNSResponse{{Answers: []model.DNSAnswer{{Type: "A", Value: "203.0.113.9"}}}}}},
	}}
	if got := strings.Join(ResolvedAddrs(m, "a.example"), " "); got != "203.0.113.1 2001:db8::1" {
		t.Errorf("ResolvedAddrs = %q", got)
	}
}

// TestOwnAddressScrubbed: a block page or banner echoing the probe's own
// address (127.0.0.1, as the test control sees it) must not carry it into
// the record; other addresses stay.
func TestOwnAddressScrubbed(t *testing.T) {
	c, _, db := setup(t)
	in := &fake{fn: func(_ int, tg target.Target) *model.Measurement {
		m := record(tg, "probe", "203.0.113.40")
		h := m.Steps[2].HTTP
		h.Title = "Blocked for 127.0.0.1"
		h.BodyHead = "<p>Your IP: 127.0.0.1.</p><p>Not 127.0.0.11, server 203.0.113.40</p>"
		h.Headers = map[string]string{"X-Client": "127.0.0.1"}
		m.Steps = append(m.Steps, model.Step{Operation: model.OpMailGreeting, Mail: &model.MailData{Protocol: "smtp", Banner: "220 hello [127.0.0.1]"}})
		return m
	}}
	a := &Assessor{Probe: in, Control: c, Geo: db}
	m := a.Assess(context.Background(), tgt(t))
	h, ml := m.Steps[2].HTTP, m.Steps[3].Mail
	for _, tc := range []struct{ name, got, want string }{
		{"title", h.Title, "Blocked for [scrubbed]"},
		{"body", h.BodyHead, "<p>Your IP: [scrubbed].</p><p>Not 127.0.0.11, server 203.0.113.40</p>"},
		{"header", h.Headers["X-Client"], "[scrubbed]"},
		{"banner", ml.Banner, "220 hello [[scrubbed]]"},
		{"address", m.Steps[2].Address, "203.0.113.40:80"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

// TestHTTP3AskedOfControl: when the inside measured HTTP/3 and the control's
// answer has none (the site advertised nothing to it), the control is asked
// again with http3, so that a QUIC block inside is compared and named.
func TestHTTP3AskedOfControl(t *testing.T) {
	quic := func(m *model.Measurement, f *string) *model.Measurement {
		m.Steps = append(m.Steps, model.Step{Operation: model.OpQUICHandshake, Address: "203.0.113.40:443", Hostname: "www.example.com",
			Failure: f, TLS: &model.TLSData{ServerName: "www.example.com", Chain: []model.Certificate{}}})
		return m
	}
	var asked atomic.Int32
	ctl := probeFunc(func(_ context.Context, tg target.Target, extra probe.Extra) *model.Measurement {
		m := record(tg, "control", "203.0.113.40")
		if extra.HTTP3 {
			asked.Add(1)
			quic(m, nil)
		}
		return m
	})
	s, err := control.NewServer(control.Config{Probe: ctl, Lab: true, CacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	in := probeFunc(func(_ context.Context, tg target.Target, extra probe.Extra) *model.Measurement {
		if extra.OnResolved != nil { // the control is asked early, before HTTP/3 was tried
			extra.OnResolved(probe.Resolved{Addrs: []string{"203.0.113.40"}, Resolvers: []string{"system"}})
		}
		return quic(record(tg, "probe", "203.0.113.40"), str(failure.GenericTimeout))
	})
	tg, err := target.Parse("https://www.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	a := &Assessor{Probe: in, Control: &control.Client{URL: ts.URL, HTTP: ts.Client()}, Retests: -1}
	m := a.Assess(context.Background(), tg[0])
	if asked.Load() == 0 || m.Status != model.StatusBlocked || len(m.Methods) != 1 || m.Methods[0] != model.MethodQUICBlocked {
		t.Fatalf("asked with http3 %d times; status %q methods %v reason %q", asked.Load(), m.Status, m.Methods, m.Verdict.Reason)
	}
}

// probeFunc is a probe.Measurer from a function.
type probeFunc func(ctx context.Context, t target.Target, extra probe.Extra) *model.Measurement

func (f probeFunc) Measure(ctx context.Context, t target.Target, extra probe.Extra) *model.Measurement {
	return f(ctx, t, extra)
}
