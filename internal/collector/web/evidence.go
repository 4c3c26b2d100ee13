package web

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/firewatch/firewatch/internal/model"
)

// evidence is a measurement laid out for the side-by-side view: what the
// probe saw inside and what the control saw outside, section by section.
type evidence struct {
	M        *model.Measurement
	Inside   side
	Outside  side
	Verdict  *model.Verdict
	Sections []section
}

// section is one kind of evidence with both sides; Present says whether
// either side has anything to show.
type section struct {
	Kind    string // "dns", "tls", "http", "download", "mail", "failures"
	Title   string
	Inside  side
	Outside side
}

// side is one vantage's observations.
type side struct {
	Present   bool
	Vantage   string
	Country   string
	ASN       int
	Network   string
	Status    string
	StartedAt time.Time
	DNS       []dnsView
	TLS       []tlsView
	HTTP      []httpView
	Downloads []downloadView
	Mail      []mailView
	Failures  []failureView
}

type dnsView struct {
	Operation, Resolver, QueryType, Hostname string
	Failure                                  string
	Bogons                                   []string
	Responses                                []dnsResponseView
}

type dnsResponseView struct {
	ArrivalMS float64
	From      string
	Rcode     string
	Answers   []string
	Failure   string
	Flags     []string // "injected", "bogon", "not seen outside"
}

type tlsView struct {
	Address, ServerName, Version, CipherSuite, ALPN string
	Failure                                         string
	Verified                                        bool
	VerifyError                                     string
	RootSubject, RootSHA256                         string
	Chain                                           []model.Certificate
	LeafDiffers                                     bool // the other side got another leaf certificate for this name
}

type httpView struct {
	Hop                                   int
	Address, URL, Method, Location, Title string
	Status                                int
	BodyLength                            int64
	BodyTruncated                         bool
	BodySHA256                            string
	Failure                               string
}

type downloadView struct {
	URL, SHA256, Failure string
	Size                 int64
	Truncated            bool
	Differs              bool // the other side's hash differs
}

type mailView struct {
	Operation, Address, Hostname, Protocol, Banner, Reply, Failure string
	Capabilities                                                   []string
	StartTLSOffered                                                bool
}

type failureView struct {
	Operation, Address, Hostname, Failure string
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// buildSide extracts one vantage's observations from its steps.
func buildSide(m *model.Measurement) side {
	if m == nil {
		return side{}
	}
	s := side{Present: true, Vantage: m.Vantage, Country: m.Probe.Country, ASN: m.Probe.ASN,
		Network: m.Probe.Network, Status: m.Status, StartedAt: m.StartedAt}
	for _, st := range m.Steps {
		switch {
		case st.DNS != nil:
			d := dnsView{Operation: st.Operation, Resolver: st.DNS.Resolver, QueryType: st.DNS.QueryType,
				Hostname: st.Hostname, Failure: str(st.Failure), Bogons: st.DNS.Bogons}
			for _, r := range st.DNS.Responses {
				rv := dnsResponseView{ArrivalMS: r.ArrivalMS, From: r.From, Rcode: r.Rcode, Failure: str(r.Failure)}
				for _, a := range r.Answers {
					rv.Answers = append(rv.Answers, fmt.Sprintf("%s %s (ttl %d)", a.Type, a.Value, a.TTL))
				}
				d.Responses = append(d.Responses, rv)
			}
			s.DNS = append(s.DNS, d)
		case st.TLS != nil:
			s.TLS = append(s.TLS, tlsView{Address: st.Address, ServerName: st.TLS.ServerName, Version: st.TLS.Version,
				CipherSuite: st.TLS.CipherSuite, ALPN: st.TLS.ALPN, Failure: str(st.Failure), Verified: st.TLS.Verified,
				VerifyError: str(st.TLS.VerifyError), RootSubject: st.TLS.RootSubject, RootSHA256: st.TLS.RootSHA256,
				Chain: st.TLS.Chain})
		case st.HTTP != nil:
			h := st.HTTP
			s.HTTP = append(s.HTTP, httpView{Hop: h.Hop, Address: st.Address, URL: h.URL, Method: h.Method,
				Location: h.Location, Title: h.Title, Status: h.Status, BodyLength: h.BodyLength,
				BodyTruncated: h.BodyTruncated, BodySHA256: h.BodySHA256, Failure: str(st.Failure)})
		case st.Download != nil:
			d := st.Download
			s.Downloads = append(s.Downloads, downloadView{URL: d.URL, SHA256: d.SHA256, Size: d.Size,
				Truncated: d.Truncated, Failure: str(st.Failure)})
		case st.Mail != nil:
			ml := st.Mail
			s.Mail = append(s.Mail, mailView{Operation: st.Operation, Address: st.Address, Hostname: st.Hostname,
				Protocol: ml.Protocol, Banner: ml.Banner, Reply: ml.Reply, Failure: str(st.Failure),
				Capabilities: ml.Capabilities, StartTLSOffered: ml.StartTLSOffered})
		case st.Failure != nil:
			s.Failures = append(s.Failures, failureView{Operation: st.Operation, Address: st.Address,
				Hostname: st.Hostname, Failure: *st.Failure})
		}
	}
	return s
}

// dnsAddresses returns every A/AAAA value a side's DNS steps received.
func dnsAddresses(s side) map[string]bool {
	out := map[string]bool{}
	for _, d := range s.DNS {
		for _, r := range d.Responses {
			for _, a := range r.Answers {
				f := strings.Fields(a)
				if len(f) >= 2 && (f[0] == "A" || f[0] == "AAAA") {
					out[f[1]] = true
				}
			}
		}
	}
	return out
}

// flagDNS marks the inside responses that look forged: an early response
// that a later one contradicts (an on-path injector races the genuine
// answer), answers naming a bogon, and addresses the control never saw.
func flagDNS(in *side, out side, methods []string) {
	outside := dnsAddresses(out)
	injected := slices.Contains(methods, model.MethodDNSInjected)
	for i := range in.DNS {
		d := &in.DNS[i]
		n := len(d.Responses)
		for j := range d.Responses {
			r := &d.Responses[j]
			if n > 1 && j < n-1 && (injected || !slices.Equal(r.Answers, d.Responses[n-1].Answers)) {
				r.Flags = append(r.Flags, "injected")
			}
			bogon, unseen := false, false
			for _, a := range r.Answers {
				f := strings.Fields(a)
				if len(f) < 2 || (f[0] != "A" && f[0] != "AAAA") {
					continue
				}
				if slices.Contains(d.Bogons, f[1]) {
					bogon = true
				}
				if out.Present && len(outside) > 0 && !outside[f[1]] {
					unseen = true
				}
			}
			if bogon {
				r.Flags = append(r.Flags, "bogon")
			}
			if unseen {
				r.Flags = append(r.Flags, "not seen outside")
			}
		}
	}
}

// markDownloads flags downloads whose hash differs from the other side's
// download of the same URL.
func markDownloads(a, b *side) {
	for i := range a.Downloads {
		for j := range b.Downloads {
			da, db := &a.Downloads[i], &b.Downloads[j]
			if da.URL == db.URL && da.SHA256 != "" && db.SHA256 != "" && da.SHA256 != db.SHA256 {
				da.Differs, db.Differs = true, true
			}
		}
	}
}

// markCertificates flags handshakes whose leaf certificate differs from the
// other side's for the same server name.
func markCertificates(a, b *side) {
	for i := range a.TLS {
		for j := range b.TLS {
			ta, tb := &a.TLS[i], &b.TLS[j]
			if ta.ServerName == tb.ServerName && len(ta.Chain) > 0 && len(tb.Chain) > 0 && ta.Chain[0].SHA256 != tb.Chain[0].SHA256 {
				ta.LeafDiffers, tb.LeafDiffers = true, true
			}
		}
	}
}

// buildEvidence lays out m (inside) and m.Control (outside) side by side.
func buildEvidence(m *model.Measurement) *evidence {
	e := &evidence{M: m, Inside: buildSide(m), Outside: buildSide(m.Control), Verdict: m.Verdict}
	flagDNS(&e.Inside, e.Outside, m.Methods)
	markDownloads(&e.Inside, &e.Outside)
	markCertificates(&e.Inside, &e.Outside)
	in, out := e.Inside, e.Outside
	add := func(kind, title string, has bool) {
		if has {
			e.Sections = append(e.Sections, section{Kind: kind, Title: title, Inside: in, Outside: out})
		}
	}
	add("dns", "DNS answers", len(in.DNS)+len(out.DNS) > 0)
	add("tls", "Certificate chains", len(in.TLS)+len(out.TLS) > 0)
	add("http", "Redirect chain", len(in.HTTP)+len(out.HTTP) > 0)
	add("download", "Downloads", len(in.Downloads)+len(out.Downloads) > 0)
	add("mail", "Mail and STARTTLS", len(in.Mail)+len(out.Mail) > 0)
	add("failures", "Other failed steps", len(in.Failures)+len(out.Failures) > 0)
	return e
}
