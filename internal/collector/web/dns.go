package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/firewatch/firewatch/internal/collector/web/params"
	"github.com/firewatch/firewatch/internal/store"
)

// Rows of each table of the DNS page.
const (
	dnsDomainsN = 200
	dnsRulesN   = 100
	dnsForgedN  = 50
	dnsEventsN  = 20
)

type dnsData struct {
	Country, ASN, Q string
	Censored        []store.DNSState
	MoreCensored    bool
	Rules           []store.DNSRule
	Forged          []store.DNSForged
	Events          []store.DNSEvent
	Chart           chart
	Export          string // the CSV export of what the page lists
}

// dnsFilter reads the DNS page's filter: country, asn, q.
func dnsFilter(q url.Values) (store.DNSFilter, error) {
	d, err := params.ParseDNS(q)
	return store.DNSFilter{Country: d.Country, ASN: d.ASN, Query: d.Query}, err
}

// dns is GET /dns: the DNS filter measured from outside by `firewatch scan
// dns` — censored domains, inferred rules, forged-address pool, censored
// domains per day and the latest changes.
func (s *server) dns(w http.ResponseWriter, r *http.Request) {
	f, err := dnsFilter(r.URL.Query())
	if err != nil {
		s.badRequest(w, r, err)
		return
	}
	ctx := r.Context()
	yes := true
	cf := f
	cf.Censored = &yes
	d := dnsData{Country: f.Country, Q: f.Query}
	if f.ASN != 0 {
		d.ASN = strconv.Itoa(f.ASN)
	}
	if d.Censored, err = s.st.DNSStates(ctx, cf, store.Page{Limit: dnsDomainsN + 1}); err != nil {
		s.fail(w, r, err)
		return
	}
	if len(d.Censored) > dnsDomainsN {
		d.Censored, d.MoreCensored = d.Censored[:dnsDomainsN], true
	}
	if d.Rules, err = s.st.DNSRules(ctx, f, store.Page{Limit: dnsRulesN}); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Forged, err = s.st.DNSForged(ctx, f, store.Page{Limit: dnsForgedN}); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Events, err = s.st.DNSEvents(ctx, f, store.Page{Limit: dnsEventsN}); err != nil {
		s.fail(w, r, err)
		return
	}
	days, err := s.st.DNSTimeline(ctx, f, 30)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	dc := make([]store.DayCount, len(days))
	for i, day := range days {
		dc[i] = store.DayCount{Day: day.Day, Targets: day.Censored}
	}
	d.Chart = newChart(dc, "censored domains",
		func(c store.DayCount) int { return c.Targets },
		func(c store.DayCount) int { return c.Targets })
	ex := url.Values{"format": {"csv"}, "censored": {"true"}}
	for k, v := range map[string]string{"country": f.Country, "asn": d.ASN, "q": f.Query} {
		if v != "" {
			ex.Set(k, v)
		}
	}
	d.Export = "/api/v1/dns?" + ex.Encode()
	s.render(w, r, http.StatusOK, "dns.html", page{Title: "DNS filter", Nav: "dns", Data: d})
}

// dnsEventTitle is the title of a DNS event in lists and feeds.
func dnsEventTitle(e store.DNSEvent) string {
	where := e.Country
	if e.ASN != 0 {
		where += " " + fmtASN(e.ASN)
	}
	if e.Kind == store.DNSCensored {
		return e.Domain + " censored by DNS in " + where
	}
	return e.Domain + " no longer censored by DNS in " + where
}

// dnsEventSummary says what a DNS event means.
func dnsEventSummary(e store.DNSEvent) string {
	if e.Kind != store.DNSCensored {
		return "A DNS scan from outside found no forged or poisoned answer for " + e.Domain + " any more."
	}
	s := "A DNS scan from outside found forged or poisoned answers for " + e.Domain + "."
	if e.Rule != "" {
		s += " Inferred rule: " + e.Rule + " " + e.RuleBase + "."
	}
	return s
}
