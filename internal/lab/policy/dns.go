package policy

import (
	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/miekg/dns"
)

var rcodeByName = map[string]int{
	"noerror": dns.RcodeSuccess, "formerr": dns.RcodeFormatError, "servfail": dns.RcodeServerFailure,
	"nxdomain": dns.RcodeNameError, "notimp": dns.RcodeNotImplemented, "refused": dns.RcodeRefused,
}

// ParseQuery returns the single-question DNS query in b.
func ParseQuery(b []byte) (*dns.Msg, bool) {
	q := new(dns.Msg)
	if err := q.Unpack(b); err != nil || q.Response || len(q.Question) != 1 || q.Opcode != dns.OpcodeQuery {
		return nil, false
	}
	return q, true
}

// ForgeDNS builds the forged response to query for rule d. name is the
// query's name ("" when query is not a single-question query); ok reports
// whether the rule matched.
func ForgeDNS(query []byte, d *scenario.DNSInject) (resp []byte, name string, ok bool) {
	q, isQuery := ParseQuery(query)
	if !isQuery {
		return nil, "", false
	}
	if !d.Matches(q.Question[0].Name) {
		return nil, q.Question[0].Name, false
	}
	b, err := ForgeAnswer(q, d)
	return b, q.Question[0].Name, err == nil
}

// ForgeAnswer builds the forged response to q for rule d: its addresses of
// the query's family (A or AAAA), or its rcode.
func ForgeAnswer(q *dns.Msg, d *scenario.DNSInject) ([]byte, error) {
	qn := q.Question[0]
	var r dns.Msg
	r.SetReply(q)
	r.RecursionAvailable = true
	r.Rcode = rcodeByName[d.Rcode]
	for _, a := range d.Answers {
		hdr := dns.RR_Header{Name: qn.Name, Class: dns.ClassINET, Ttl: 300}
		switch {
		case a.Is4() && qn.Qtype == dns.TypeA:
			hdr.Rrtype = dns.TypeA
			r.Answer = append(r.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
		case a.Is6() && qn.Qtype == dns.TypeAAAA:
			hdr.Rrtype = dns.TypeAAAA
			r.Answer = append(r.Answer, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
		}
	}
	return r.Pack()
}
