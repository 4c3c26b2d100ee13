package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/model"
)

func TestTargetPageShowsThePath(t *testing.T) {
	srv, st := newSite(t)
	c := newClient(t)
	at := testNow.Add(-time.Hour)
	hop := func(ttl int, router string, interference, censor bool, answers ...string) model.Step {
		d := &model.TraceHopData{Method: model.MethodHTTPReset, TTL: ttl, Router: router, Interference: interference, Answers: answers, Censor: censor}
		if censor {
			d.Placement = "in-path"
		}
		d.Reached = ttl == 4
		return model.Step{Operation: model.OpTraceHop, Address: "203.0.113.30:80", StartedAt: at, Trace: d}
	}
	m := &model.Measurement{Schema: model.SchemaVersion, ID: "m-trace-1", Target: "http://www.falundafa.example/", StartedAt: at,
		Vantage: "probe", Probe: model.ProbeInfo{Country: "CN", ASN: 4134, Software: "firewatch/test"}, Resolvers: []string{"system"},
		Status: model.StatusBlocked, Methods: []string{model.MethodHTTPReset}, Verdict: &model.Verdict{},
		Steps: []model.Step{
			hop(1, "198.51.100.1", false, false),
			hop(2, "", false, false),
			hop(3, "198.51.100.14", true, true, "rst from 203.0.113.30:80 (ip ttl 64)"),
			hop(4, "", true, false, "rst from 203.0.113.30:80 (ip ttl 64)"),
		}}
	if _, err := st.Insert(context.Background(), []*model.Measurement{m}); err != nil {
		t.Fatal(err)
	}
	_, _, body := get(t, c, srv.URL+"/target?u="+url.QueryEscape(m.Target))
	p := section(body, `<section id="path">`, "</section>")
	for _, want := range []string{"hop 3</strong> (in-path)", "the server is 4 hops away", "<code>198.51.100.1</code>", "* (no ICMP)", `<tr class="censor"><td class="num">3</td>`, "rst from 203.0.113.30:80"} {
		if !strings.Contains(p, want) {
			t.Errorf("path section lacks %q:\n%s", want, p)
		}
	}
	// a target never traced has no path section
	_, _, body = get(t, c, srv.URL+"/target?u="+url.QueryEscape("https://www.example.com/"))
	if strings.Contains(body, `id="path"`) {
		t.Error("a target without a trace shows a path")
	}
}

func TestTargetPageAndFeedShowKeywords(t *testing.T) {
	srv, st := newSite(t)
	c := newClient(t)
	at := testNow.Add(-time.Hour)
	m := &model.Measurement{Schema: model.SchemaVersion, ID: "m-words-1", Target: "http://news.example/search?q=", Input: "http://news.example/search?q={}",
		StartedAt: at, Vantage: "probe", Probe: model.ProbeInfo{Country: "CN", ASN: 4134, Software: "firewatch/test"}, Resolvers: []string{"system"},
		Status: model.StatusBlocked, Methods: []string{model.MethodHTTPReset}, Verdict: &model.Verdict{},
		Steps: []model.Step{
			{Operation: model.OpKeywordTest, StartedAt: at, Keyword: &model.KeywordData{Field: "path", Value: "/search?q=falun", Word: "falun", Status: "blocked", Blocked: true, Methods: []string{model.MethodHTTPReset}}},
			{Operation: model.OpKeywordTest, StartedAt: at, Keyword: &model.KeywordData{Field: "path", Value: "/search?q=weather", Word: "weather", Status: "ok"}},
		}}
	if _, err := st.Insert(context.Background(), []*model.Measurement{m}); err != nil {
		t.Fatal(err)
	}
	_, _, body := get(t, c, srv.URL+"/target?u="+url.QueryEscape(m.Target))
	k := section(body, `<section id="keywords">`, "</section>")
	if !strings.Contains(k, "<code>falun</code>") || !strings.Contains(k, "<code>weather</code>") || strings.Index(k, "falun") > strings.Index(k, "weather") {
		t.Errorf("keywords section, blocked word first:\n%s", k)
	}
	_, _, feed := get(t, c, srv.URL+"/feed.atom")
	if !strings.Contains(feed, "keyword &#34;falun&#34; blocked in CN (AS4134)") && !strings.Contains(feed, "keyword &quot;falun&quot; blocked in CN (AS4134)") {
		t.Errorf("the feed does not announce the blocked keyword:\n%.2000s", feed)
	}
}
