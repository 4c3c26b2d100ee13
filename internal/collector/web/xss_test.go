package web_test

import (
	"context"
	"encoding/xml"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/collector/web"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store/storetest"
)

// hostile is a measurement whose every network-derived field carries HTML.
func hostile(now time.Time) *model.Measurement {
	s := func(v string) *string { return &v }
	const tgt = `https://xss.example/<script>alert(4)</script>`
	m := &model.Measurement{
		Schema: model.SchemaVersion, ID: `m-xss"><script>alert(5)</script>`, Target: tgt, Category: `<b>NEWS</b>`,
		StartedAt: now.Add(-time.Hour), Vantage: "probe",
		Probe:  model.ProbeInfo{Country: "CN", ASN: 4134, Network: `<iframe src="//evil">`, Software: "firewatch/test"},
		Status: model.StatusBlocked, Methods: []string{model.MethodHTTPBlockpage},
		Steps: []model.Step{
			{Operation: model.OpDNSRoundTrip, Hostname: `<svg onload=alert(6)>`, DNS: &model.DNSData{Resolver: "system", QueryType: "A",
				Responses: []model.DNSResponse{{Rcode: "NOERROR", Answers: []model.DNSAnswer{{Type: "CNAME", Value: `<script>alert(7)</script>`}}}}}},
			{Operation: model.OpTLSHandshake, Address: "192.0.2.1:443", TLS: &model.TLSData{ServerName: "xss.example",
				Chain: []model.Certificate{{Subject: `CN=<img src=x onerror=alert(2)>`, Issuer: `O=<script>alert(8)</script>`, SANs: []string{`<a href="javascript:alert(9)">`}}}, VerifyError: s("ssl_unknown_authority")}},
			{Operation: model.OpHTTPRoundTrip, HTTP: &model.HTTPData{URL: `javascript:alert(3)//"><script>alert(3)</script>`, Method: "GET", Status: 302,
				Location: `"><script>alert(10)</script>`, Title: `<script>alert(1)</script>`, BodySHA256: "00"}},
			{Operation: model.OpMailGreeting, Mail: &model.MailData{Protocol: "smtp", Banner: `220 <script>alert(11)</script>`}},
		},
		Verdict: &model.Verdict{Evidence: []model.Evidence{{Method: model.MethodHTTPBlockpage, Lines: []string{`title was <script>alert(1)</script>`}}}},
	}
	m.Control = &model.Measurement{Vantage: "control", Status: model.StatusMeasured, Steps: []model.Step{
		{Operation: model.OpHTTPRoundTrip, HTTP: &model.HTTPData{URL: tgt, Method: "GET", Status: 200, Title: `</div><script>alert(12)</script>`}},
	}}
	return m
}

func TestNetworkDataIsEscaped(t *testing.T) {
	srv, st := newSite(t)
	m := hostile(testNow)
	if _, err := st.Insert(context.Background(), []*model.Measurement{m}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t)
	pages := []string{
		"/", "/targets", "/targets?q=xss", "/events",
		"/target?u=" + url.QueryEscape(m.Target),
		"/target?u=" + url.QueryEscape(m.Target) + "&m=" + url.QueryEscape(m.ID),
		"/measurement?id=" + url.QueryEscape(m.ID),
		"/target?u=" + url.QueryEscape(`<script>alert(13)</script>`),
		"/measurement?id=" + url.QueryEscape(`<script>alert(14)</script>`),
		"/targets?q=" + url.QueryEscape(`<script>alert(15)</script>`),
	}
	for _, p := range pages {
		code, _, body := get(t, c, srv.URL+p)
		for _, bad := range []string{"<script", "<img", "<iframe", "<svg onload", "<b>", `href="javascript:`, "<a href=\"javascript"} {
			if strings.Contains(strings.ToLower(body), strings.ToLower(bad)) {
				i := strings.Index(strings.ToLower(body), strings.ToLower(bad))
				t.Errorf("%s (status %d): raw %q in the page: …%s…", p, code, bad, body[max(0, i-80):min(len(body), i+80)])
			}
		}
	}
	_, _, body := get(t, c, srv.URL+"/target?u="+url.QueryEscape(m.Target))
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "CN=&lt;img src=x onerror=alert(2)&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("target page lacks the escaped text %q", want)
		}
	}
	// Feeds carry the hostile target as XML text, which parses back intact.
	for _, p := range []string{"/feed.atom", "/feed.rss"} {
		_, _, body := get(t, c, srv.URL+p)
		if strings.Contains(body, "<script") {
			t.Errorf("%s: raw <script> in the feed", p)
		}
		var v struct {
			Inner []byte `xml:",innerxml"`
		}
		if err := xml.Unmarshal([]byte(body), &v); err != nil {
			t.Errorf("%s: not XML: %v", p, err)
		}
	}
}

func TestContentSecurityPolicyOnEveryResponse(t *testing.T) {
	srv, _ := newSite(t)
	c := newClient(t)
	for _, p := range []string{"/", "/target?u=x", "/nope", "/static/style.css", "/feed.atom", "/login", "/?asn=bad"} {
		_, hdr, _ := get(t, c, srv.URL+p)
		if got := hdr.Get("Content-Security-Policy"); got != web.ContentSecurityPolicy {
			t.Errorf("%s: CSP %q", p, got)
		}
		if hdr.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", p)
		}
	}
	_ = storetest.TargetOK
}

// TestQueuePageIsEscaped: queued targets and agent names carry HTML on the
// operators' queue page as text only.
func TestQueuePageIsEscaped(t *testing.T) {
	srv, st := newSite(t)
	ctx := context.Background()
	if _, err := st.Enqueue(ctx, `https://xss.example/<script>alert(16)</script>`, "operator"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Dequeue(ctx, `<img src=x onerror=alert(17)>`, 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	c := newClient(t)
	signIn(t, srv, c)
	code, _, body := get(t, c, srv.URL+"/queue")
	if code != 200 || !strings.Contains(body, "xss.example") {
		t.Fatalf("queue page: status %d", code)
	}
	for _, bad := range []string{"<script", "<img"} {
		if strings.Contains(body, bad) {
			t.Errorf("queue page contains raw %q", bad)
		}
	}
}
