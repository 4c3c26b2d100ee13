package policy

import (
	"encoding/binary"
	"strings"
)

// DNSTCPPort is the TCP port whose streams dns-tcp rules inspect.
const DNSTCPPort = 53

// dnsHeaderLen is the size of a DNS message header: a shorter message is
// no query.
const dnsHeaderLen = 12

// dnsTCPQueries returns the names asked by the DNS queries at the start of
// a DNS-over-TCP stream (RFC 1035 4.2.2: each message after a two-byte
// length), lower case without the trailing dot, in order. The state is
// streamIncomplete while the last message (or its length) is cut short,
// streamOther when a message is not a single-question query (what follows
// is not looked at), streamDone otherwise.
func dnsTCPQueries(b []byte) ([]string, int) {
	var names []string
	for len(b) > 0 {
		if len(b) < 2 {
			return names, streamIncomplete
		}
		n := int(binary.BigEndian.Uint16(b))
		if n < dnsHeaderLen {
			return names, streamOther
		}
		if len(b) < 2+n {
			return names, streamIncomplete
		}
		q, ok := ParseQuery(b[2 : 2+n])
		if !ok {
			return names, streamOther
		}
		names = append(names, strings.TrimSuffix(strings.ToLower(q.Question[0].Name), "."))
		b = b[2+n:]
	}
	if len(names) == 0 {
		return nil, streamIncomplete
	}
	return names, streamDone
}

// DNSTCP inspects the start of a DNS-over-TCP stream and returns the
// dns-tcp rule the first matching query matches (rules in the scenario's
// order), with the name as Keyword and "dns" as Where, and whether the
// stream was complete enough to decide (a message cut short may still
// match once its rest arrives). The caller rolls the rule's probability
// once per connection.
func (p *Policy) DNSTCP(payload []byte) (ResetMatch, bool) {
	names, st := dnsTCPQueries(payload)
	for _, name := range names {
		for _, r := range p.dnsTCP {
			if r.DNSTCP.Matches(name) {
				return ResetMatch{r, name, "dns"}, true
			}
		}
	}
	return ResetMatch{}, st != streamIncomplete
}
