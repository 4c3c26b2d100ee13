package ingest

import (
	"fmt"
	"unicode/utf8"

	"github.com/firewatch/firewatch/internal/model"
)

// bounds checks a record against the bounds of the record format
// (model.Max*), keeping the first field out of bounds.
type bounds struct {
	prefix string
	err    *FieldError
}

func (b *bounds) fail(field, format string, args ...any) {
	if b.err == nil {
		b.err = &FieldError{b.prefix + field, fmt.Sprintf(format, args...)}
	}
}

// count bounds the length of a list.
func (b *bounds) count(field string, n, max int) {
	if n > max {
		b.fail(field, "%d, at most %d", n, max)
	}
}

// list bounds a list of strings: its length, and each item's in bytes
// (named field[i]).
func (b *bounds) list(field string, items []string, maxItems, maxLen int) {
	b.count(field, len(items), maxItems)
	for i, s := range items {
		if len(s) > maxLen {
			b.text(fmt.Sprintf("%s[%d]", field, i), s, maxLen)
		}
	}
}

// text bounds the length of a string in bytes.
func (b *bounds) text(field, s string, max int) {
	if len(s) > max {
		b.fail(field, "%d bytes, at most %d", len(s), max)
	}
}

// chars bounds the length of a string in characters.
func (b *bounds) chars(field, s string, max int) {
	if len(s) > max { // a cheap test first: no string has more characters than bytes
		if n := utf8.RuneCountInString(s); n > max {
			b.fail(field, "%d characters, at most %d", n, max)
		}
	}
}

func (b *bounds) failure(field string, f *string) {
	if f != nil {
		b.text(field, *f, model.MaxFailureLen)
	}
}

// checkBounds returns a *FieldError for the first field of m (prefixed by
// p) out of the record format's bounds, or nil.
func checkBounds(m *model.Measurement, p string) error {
	b := &bounds{prefix: p}
	b.text("schema", m.Schema, model.MaxShortLen)
	b.text("id", m.ID, model.MaxIDLen)
	b.text("target", m.Target, model.MaxTargetLen)
	b.text("input", m.Input, model.MaxTargetLen)
	b.text("category", m.Category, model.MaxCategoryLen)
	b.text("vantage", m.Vantage, model.MaxShortLen)
	b.text("status", m.Status, model.MaxShortLen)
	b.text("probe.network", m.Probe.Network, model.MaxNameLen)
	b.text("probe.software", m.Probe.Software, model.MaxNameLen)
	b.text("probe.platform", m.Probe.Platform, model.MaxNameLen)
	b.count("resolvers", len(m.Resolvers), model.MaxResolvers)
	for i, r := range m.Resolvers {
		if len(r) > model.MaxTargetLen {
			b.text(fmt.Sprintf("resolvers[%d]", i), r, model.MaxTargetLen)
		}
	}
	b.count("methods", len(m.Methods), len(model.Methods))
	b.count("steps", len(m.Steps), model.MaxSteps)
	if b.err != nil {
		return b.err
	}
	for i := range m.Steps {
		b.step(fmt.Sprintf("steps[%d].", i), &m.Steps[i])
		if b.err != nil {
			return b.err
		}
	}
	if v := m.Verdict; v != nil {
		b.text("verdict.reason", v.Reason, model.MaxEvidenceLine)
		b.count("verdict.evidence", len(v.Evidence), model.MaxEvidence)
		for i, e := range v.Evidence {
			ep := fmt.Sprintf("verdict.evidence[%d].", i)
			b.list(ep+"lines", e.Lines, model.MaxLines, model.MaxEvidenceLine)
			if b.err != nil {
				return b.err
			}
		}
	}
	if b.err != nil { // a nil *FieldError is not a nil error
		return b.err
	}
	return nil
}

func (b *bounds) step(p string, s *model.Step) {
	b.text(p+"operation", s.Operation, model.MaxShortLen)
	b.text(p+"address", s.Address, model.MaxHostLen)
	b.text(p+"hostname", s.Hostname, model.MaxHostLen)
	b.failure(p+"failure", s.Failure)
	if d := s.DNS; d != nil {
		b.text(p+"dns.resolver", d.Resolver, model.MaxTargetLen)
		b.text(p+"dns.query_type", d.QueryType, model.MaxShortLen)
		b.count(p+"dns.responses", len(d.Responses), model.MaxDNSResponses)
		for i, r := range d.Responses {
			rp := fmt.Sprintf("%sdns.responses[%d].", p, i)
			b.text(rp+"from", r.From, model.MaxHostLen)
			b.text(rp+"rcode", r.Rcode, model.MaxNameLen)
			b.failure(rp+"failure", r.Failure)
			b.text(rp+"raw_b64", r.Raw, model.MaxDNSRaw)
			b.count(rp+"answers", len(r.Answers), model.MaxDNSAnswers)
			for j, a := range r.Answers {
				if len(a.Name) > model.MaxHostLen || len(a.Value) > model.MaxHostLen || len(a.Type) > model.MaxShortLen {
					ap := fmt.Sprintf("%sanswers[%d].", rp, j)
					b.text(ap+"name", a.Name, model.MaxHostLen)
					b.text(ap+"type", a.Type, model.MaxShortLen)
					b.text(ap+"value", a.Value, model.MaxHostLen)
				}
			}
			if b.err != nil {
				return
			}
		}
		b.list(p+"dns.bogons", d.Bogons, model.MaxBogons, model.MaxHostLen)
	}
	if t := s.TLS; t != nil {
		b.text(p+"tls.server_name", t.ServerName, model.MaxHostLen)
		b.text(p+"tls.version", t.Version, model.MaxShortLen)
		b.text(p+"tls.cipher_suite", t.CipherSuite, model.MaxShortLen)
		b.text(p+"tls.alpn", t.ALPN, model.MaxShortLen)
		b.failure(p+"tls.verify_error", t.VerifyError)
		b.text(p+"tls.root_subject", t.RootSubject, model.MaxCertNameLen)
		b.text(p+"tls.root_sha256", t.RootSHA256, model.MaxDigestLen)
		b.count(p+"tls.chain", len(t.Chain), model.MaxChain)
		for i, c := range t.Chain {
			cp := fmt.Sprintf("%stls.chain[%d].", p, i)
			b.text(cp+"subject", c.Subject, model.MaxCertNameLen)
			b.text(cp+"issuer", c.Issuer, model.MaxCertNameLen)
			b.text(cp+"sha256", c.SHA256, model.MaxDigestLen)
			b.text(cp+"spki_sha256", c.PublicKeySHA256, model.MaxDigestLen)
			b.list(cp+"sans", c.SANs, model.MaxSANs, model.MaxCertNameLen)
			if b.err != nil {
				return
			}
		}
	}
	if h := s.HTTP; h != nil {
		b.text(p+"http.url", h.URL, model.MaxURLLen)
		b.text(p+"http.method", h.Method, model.MaxShortLen)
		b.text(p+"http.location", h.Location, model.MaxURLLen)
		b.count(p+"http.headers", len(h.Headers), model.MaxHeaders)
		for k, v := range h.Headers {
			b.text(p+"http.headers", k, model.MaxNameLen)
			b.text(p+"http.headers."+clip(k), v, model.MaxHeaderLen)
		}
		b.text(p+"http.body_sha256", h.BodySHA256, model.MaxDigestLen)
		b.chars(p+"http.body_head", h.BodyHead, model.MaxBodyHead)
		b.text(p+"http.title", h.Title, model.MaxTitle)
		if h.Elements != nil {
			b.list(p+"http.elements", *h.Elements, model.MaxElements, model.MaxDigestLen)
		}
	}
	if ml := s.Mail; ml != nil {
		b.text(p+"mail.protocol", ml.Protocol, model.MaxShortLen)
		b.text(p+"mail.banner", ml.Banner, model.MaxBanner)
		b.text(p+"mail.reply", ml.Reply, model.MaxBanner)
		b.list(p+"mail.capabilities", ml.Capabilities, model.MaxCapabilities, model.MaxCapability)
	}
	if d := s.Download; d != nil {
		b.text(p+"download.url", d.URL, model.MaxURLLen)
		b.text(p+"download.sha256", d.SHA256, model.MaxDigestLen)
	}
	if tr := s.Trace; tr != nil {
		b.text(p+"trace.method", tr.Method, model.MaxShortLen)
		b.text(p+"trace.router", tr.Router, model.MaxHostLen)
		b.list(p+"trace.answers", tr.Answers, model.MaxTraceAnswers, model.MaxEvidenceLine)
	}
	if k := s.Keyword; k != nil {
		b.text(p+"keyword.field", k.Field, model.MaxShortLen)
		b.text(p+"keyword.value", k.Value, model.MaxURLLen)
		b.text(p+"keyword.word", k.Word, model.MaxHostLen)
		b.text(p+"keyword.mutation", k.Mutation, model.MaxNameLen)
		b.text(p+"keyword.outcome", k.Outcome, model.MaxEvidenceLine)
		b.text(p+"keyword.control", k.Control, model.MaxEvidenceLine)
	}
}
