package api

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/firewatch/firewatch/internal/store"
)

// DNSCSVHeader is the header row of GET /api/v1/dns?format=csv.
var DNSCSVHeader = []string{"domain", "country", "asn", "censored", "since", "last_change", "last_seen", "tests", "method", "rule", "rule_base"}

// DNSTimeline is the body of GET /api/v1/dns/timeline.
type DNSTimeline struct {
	Days []store.DNSDay `json:"days"`
}

func (a *api) mountDNS(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/dns", a.dnsStates)
	mux.HandleFunc("GET /api/v1/dns/rules", listed(parseDNSList, a.st.DNSRules))
	mux.HandleFunc("GET /api/v1/dns/forged", listed(parseDNSList, a.st.DNSForged))
	mux.HandleFunc("GET /api/v1/dns/timeline", a.dnsTimeline)
	mux.HandleFunc("GET /api/v1/dns/events", listed(parseDNSList, a.st.DNSEvents))
}

// ParseDNSFilter reads the DNS lists' parameters: country, asn, q (part
// of the domain), censored (true or false).
func ParseDNSFilter(r *http.Request) (store.DNSFilter, error) {
	q := r.URL.Query()
	f := store.DNSFilter{Country: strings.ToUpper(q.Get("country")), Query: q.Get("q")}
	if v := q.Get("asn"); v != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(strings.ToUpper(v), "AS"))
		if err != nil || n < 0 {
			return f, fmt.Errorf("parameter asn: %q is not an AS number", v)
		}
		f.ASN = n
	}
	if v := q.Get("censored"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return f, fmt.Errorf("parameter censored: %q, want true or false", v)
		}
		f.Censored = &b
	}
	return f, nil
}

func parseDNSList(r *http.Request) (store.DNSFilter, store.Page, error) {
	f, err := ParseDNSFilter(r)
	if err != nil {
		return f, store.Page{}, err
	}
	_, p, err := parseList(r)
	return f, p, err
}

// dnsStates is GET /api/v1/dns: the state of each domain in each network,
// a page of JSON, or with format=csv|jsonl every matching row (export).
func (a *api) dnsStates(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format == "" || format == "json" {
		listed(parseDNSList, a.st.DNSStates)(w, r)
		return
	}
	if format != "csv" && format != "jsonl" {
		fail(w, http.StatusBadRequest, "parameter format: %q, want json, csv or jsonl", format)
		return
	}
	f, err := ParseDNSFilter(r)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	limit, err := intParam(r, "limit", DefaultExportRows, 1, MaxExportRows)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	release, ok := a.exportSlot(w)
	if !ok {
		return
	}
	defer release()
	var emit func(store.DNSState) error
	flush := func() {}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="firewatch-dns.csv"`)
		cw := csv.NewWriter(w)
		cw.Write(DNSCSVHeader)
		emit = func(d store.DNSState) error {
			change := ""
			if d.LastChange != nil {
				change = d.LastChange.Format(time.RFC3339Nano)
			}
			return cw.Write([]string{cell(d.Domain), d.Country, strconv.Itoa(d.ASN), strconv.FormatBool(d.Censored),
				d.Since.Format(time.RFC3339Nano), change, d.LastSeen.Format(time.RFC3339Nano), strconv.Itoa(d.Tests), d.Method, d.Rule, cell(d.RuleBase)})
		}
		flush = cw.Flush
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="firewatch-dns.jsonl"`)
		enc := json.NewEncoder(w)
		emit = func(d store.DNSState) error { return enc.Encode(d) }
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	rc := http.NewResponseController(w)
	sent := 0
	for sent < limit {
		rc.SetWriteDeadline(time.Now().Add(a.opts.ExportStall))
		page := store.Page{Limit: min(MaxLimit, limit-sent), Offset: sent}
		items, err := a.st.DNSStates(r.Context(), f, page)
		if err != nil {
			return // the status line is gone; the client sees a short body
		}
		for _, d := range items {
			if emit(d) != nil {
				return
			}
		}
		flush()
		sent += len(items)
		if len(items) < page.Limit {
			break
		}
	}
}

func (a *api) dnsTimeline(w http.ResponseWriter, r *http.Request) {
	f, err := ParseDNSFilter(r)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	days, err := intParam(r, "days", 30, 1, 366)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	items, err := a.st.DNSTimeline(r.Context(), f, days)
	if err != nil {
		storeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, DNSTimeline{Days: items})
}
