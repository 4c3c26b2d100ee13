package api

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/store"
	"github.com/firewatch/firewatch/internal/store/storetest"
)

// TestDNSLists reads every DNS list of the API over the sample scans: the
// pages, their filters and a bad parameter named in a 400.
func TestDNSLists(t *testing.T) {
	srv, st := setup(t)
	if _, err := st.InsertDNS(context.Background(), storetest.SampleDNS(time.Now())); err != nil {
		t.Fatal(err)
	}
	var states List[store.DNSState]
	if code, body := get(t, srv, "/api/v1/dns?censored=true", &states); code != 200 || len(states.Items) != 2 {
		t.Fatalf("censored states: %d %d items: %s", code, len(states.Items), body)
	}
	for _, s := range states.Items {
		if !s.Censored || s.Domain == "lifted.example" {
			t.Errorf("censored=true lists %+v", s)
		}
	}
	if code, _ := get(t, srv, "/api/v1/dns?limit=2", &states); code != 200 || len(states.Items) != 2 || states.NextOffset == nil || *states.NextOffset != 2 {
		t.Errorf("page of 2: %d %+v", code, states)
	}
	var rules List[store.DNSRule]
	if code, body := get(t, srv, "/api/v1/dns/rules?asn=AS4134", &rules); code != 200 || len(rules.Items) == 0 {
		t.Fatalf("rules: %d %s", code, body)
	}
	var forged List[store.DNSForged]
	if code, body := get(t, srv, "/api/v1/dns/forged?country=cn", &forged); code != 200 || len(forged.Items) != 2 {
		t.Fatalf("forged: %d %s", code, body)
	}
	var events List[store.DNSEvent]
	if code, body := get(t, srv, "/api/v1/dns/events?q=lifted", &events); code != 200 || len(events.Items) == 0 {
		t.Fatalf("events: %d %s", code, body)
	}
	for _, e := range events.Items {
		if e.Domain != "lifted.example" {
			t.Errorf("q=lifted lists %+v", e)
		}
	}
	for path, want := range map[string]string{
		"/api/v1/dns/rules?asn=x":       "parameter asn",
		"/api/v1/dns/forged?limit=0":    "parameter limit",
		"/api/v1/dns/events?censored=y": "parameter censored",
		"/api/v1/dns?format=xml":        "parameter format",
	} {
		if code, body := get(t, srv, path, nil); code != 400 || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s, want 400 naming %q", path, code, body, want)
		}
	}
}
