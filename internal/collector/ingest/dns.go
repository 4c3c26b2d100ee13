package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/firewatch/firewatch/internal/dnsscan"
	"github.com/firewatch/firewatch/internal/store"
	"golang.org/x/net/idna"
)

// DNSResult is the body of a successful POST /api/v1/dns.
type DNSResult struct {
	Accepted int `json:"accepted"` // records of the batch
	Domains  int `json:"domains"`  // domain and network pairs they fold into
	Events   int `json:"events"`   // domains that became censored or uncensored
}

// DNSHandler returns the handler of POST /api/v1/dns: batches of `firewatch
// scan dns` records (JSON Lines or a JSON array, gzip or not) with a probe
// token, validated as a whole and folded into the DNS history. The limits,
// answers and errors are those of Handler.
func DNSHandler(st store.Store, opts Options) http.Handler {
	return &dnsHandler{Handler(st, opts).(*handler)}
}

type dnsHandler struct{ *handler }

func (h *dnsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, body, ok := h.receive(w, r)
	if !ok {
		return
	}
	recs, err := ParseDNS(body, h.opts.MaxRecords)
	if err != nil {
		failBatch(w, err)
		return
	}
	obs := DNSObservations(recs)
	events, err := h.st.InsertDNS(r.Context(), obs)
	if err != nil {
		fail(w, http.StatusInternalServerError, "storing the batch failed")
		return
	}
	writeJSON(w, http.StatusOK, DNSResult{Accepted: len(recs), Domains: len(obs), Events: len(events)})
}

// Bounds of one DNS record.
const (
	maxDNSResponses = 16
	maxDNSAnswers   = 64
	maxDNSText      = 512
)

// ParseDNS decodes and validates a batch of scan records: JSON Lines or one
// JSON array. A bad record is a *RecordError naming it and the field.
func ParseDNS(body []byte, maxRecords int) ([]*dnsscan.Record, error) {
	body = bytes.TrimSpace(body)
	var recs []*dnsscan.Record
	if len(body) > 0 && body[0] == '[' {
		if err := json.Unmarshal(body, &recs); err != nil {
			return nil, fmt.Errorf("JSON array: %v", err)
		}
		if len(recs) > maxRecords {
			return nil, fmt.Errorf("%w: %d records, the limit is %d", ErrTooManyRecords, len(recs), maxRecords)
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(body))
		for {
			var r dnsscan.Record
			err := dec.Decode(&r)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, &RecordError{Index: len(recs), Err: err}
			}
			if len(recs) == maxRecords {
				return nil, fmt.Errorf("%w: more than %d records", ErrTooManyRecords, maxRecords)
			}
			recs = append(recs, &r)
		}
	}
	if len(recs) == 0 {
		return nil, errors.New("no record in the body")
	}
	for i, r := range recs {
		if r == nil {
			return nil, &RecordError{Index: i, Err: errors.New("null record")}
		}
		if field, msg := validateDNS(r); msg != "" {
			return nil, &RecordError{Index: i, Field: field, Err: &FieldError{Field: field, Msg: msg}}
		}
	}
	return recs, nil
}

var domainProfile = idna.New(idna.ValidateForRegistration())

func validateDNS(r *dnsscan.Record) (field, msg string) {
	d := strings.TrimSuffix(strings.ToLower(r.Domain), ".")
	if d == "" || len(d) > 253 || strings.ContainsAny(d, " /:\x00") {
		return "domain", fmt.Sprintf("invalid domain %q", clip(r.Domain))
	}
	if _, err := domainProfile.ToASCII(d); err != nil && !strings.Contains(d, "_") {
		return "domain", fmt.Sprintf("invalid domain %q: %v", clip(r.Domain), err)
	}
	r.Domain = d
	switch r.Method {
	case dnsscan.MethodVia:
		if r.Injected == nil {
			return "injected", "missing (method via)"
		}
	case dnsscan.MethodResolver:
		if r.Poisoned == nil {
			return "poisoned", "missing (method resolver)"
		}
	default:
		return "method", fmt.Sprintf("%q: want via or resolver", clip(r.Method))
	}
	if r.QType != "A" && r.QType != "AAAA" {
		return "qtype", fmt.Sprintf("%q: want A or AAAA", clip(r.QType))
	}
	if _, err := netip.ParseAddrPort(r.Server); err != nil {
		return "server", fmt.Sprintf("%q: want IP:PORT", clip(r.Server))
	}
	switch {
	case len(r.Country) > 2:
		return "country", "want a two-letter country code"
	case len(r.Evidence) > 64:
		return "evidence", fmt.Sprintf("%d lines, at most 64", len(r.Evidence))
	case len(r.RuleBase) > 253:
		return "rule_base", "longer than a domain"
	}
	for _, e := range r.Evidence {
		if len(e) > 4*maxDNSText {
			return "evidence", "a line longer than 2048 bytes"
		}
	}
	if r.Time.IsZero() || r.Time.After(time.Now().Add(time.Hour)) {
		return "time", "missing or in the future"
	}
	if r.Rule != nil && *r.Rule != dnsscan.RuleExact && *r.Rule != dnsscan.RuleSuffix && *r.Rule != dnsscan.RuleSubstring {
		return "rule", fmt.Sprintf("%q: want exact, suffix, substring or null", clip(*r.Rule))
	}
	if len(r.Responses) > maxDNSResponses {
		return "responses", fmt.Sprintf("%d responses, at most %d", len(r.Responses), maxDNSResponses)
	}
	for _, resp := range r.Responses {
		if len(resp.Answers) > maxDNSAnswers {
			return "responses.answers", fmt.Sprintf("%d answers, at most %d", len(resp.Answers), maxDNSAnswers)
		}
		for _, a := range resp.Answers {
			if len(a.Data) > maxDNSText || len(a.Name) > maxDNSText {
				return "responses.answers.data", "too long"
			}
		}
	}
	return "", ""
}

// DNSObservations folds records into one observation per domain and
// network: censored when any record of it is, with the first rule given and
// the forged addresses of the censored records.
func DNSObservations(recs []*dnsscan.Record) []store.DNSObservation {
	type key struct {
		domain, country string
		asn             uint32
	}
	idx := map[key]int{}
	var out []store.DNSObservation
	for _, r := range recs {
		country := r.Country
		if country == "" {
			country = "ZZ"
		}
		k := key{r.Domain, country, r.ASN}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, store.DNSObservation{Domain: r.Domain, Country: country, ASN: int(r.ASN), Method: r.Method, At: r.Time})
		}
		o := &out[i]
		if r.Time.After(o.At) {
			o.At = r.Time
		}
		if !r.Censored() {
			continue
		}
		o.Censored = true
		if o.Rule == "" && r.Rule != nil {
			o.Rule, o.RuleBase = *r.Rule, r.RuleBase
		}
		control := map[string]bool{}
		for _, c := range r.Control {
			control[c] = true
		}
		for _, resp := range r.Responses {
			for _, a := range resp.Answers {
				if (a.Type == "A" || a.Type == "AAAA") && !control[a.Data] && len(o.Forged) < maxDNSAnswers && !contains(o.Forged, a.Data) {
					o.Forged = append(o.Forged, a.Data)
				}
			}
		}
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
