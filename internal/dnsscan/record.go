// Package dnsscan measures DNS censorship from outside a network at internet
// scale. The "via" method (GFWatch's) sends queries across the censor to
// addresses that run no DNS server, so every answer is forged; the "resolver"
// method (Satellite's) asks open resolvers inside the network and compares
// their answers with a trusted control. Queries go out of a few UDP sockets
// paced by a token bucket and responses are matched by id and question, so
// one process keeps tens of thousands of names per second in flight with
// memory bounded by what is in flight, not by the length of the list.
package dnsscan

import "time"

// Methods, as written in Record.Method.
const (
	MethodVia      = "via"
	MethodResolver = "resolver"
)

// Rule kinds inferred for a censored domain (GFWatch's classification).
const (
	RuleExact     = "exact"     // only the name itself
	RuleSuffix    = "suffix"    // the name and every name under it (*.D)
	RuleSubstring = "substring" // any name containing it
)

// Record is the result for one domain and query type (and, with the
// resolver method, one resolver): one JSON line of `firewatch scan dns`.
type Record struct {
	Domain string `json:"domain"`
	QType  string `json:"qtype"`
	Method string `json:"method"`
	// Server is the address queried: the via address, or the resolver.
	Server string `json:"server"`
	// Country and ASN of the resolver, when the resolver list gives them.
	Country string `json:"country,omitempty"`
	ASN     uint32 `json:"asn,omitempty"`
	// Injected (via): some answer came back from an address that runs no
	// DNS server, so it was forged on the path.
	Injected *bool `json:"injected,omitempty"`
	// Poisoned (resolver): an answer is neither the control's, nor in its
	// AS, nor an address presenting a valid certificate for the name.
	Poisoned *bool `json:"poisoned,omitempty"`
	// Responses are every response received, in arrival order.
	Responses []Response `json:"responses"`
	// Rule is the inferred blocking rule (via, censored domains only).
	Rule *string `json:"rule"`
	// RuleBase is the shortest censored base domain the rule applies to:
	// the D of exact D, *.D or substring D.
	RuleBase string `json:"rule_base,omitempty"`
	// Control is the control's answer set (resolver method).
	Control []string `json:"control,omitempty"`
	// Evidence says in words why the record is censored.
	Evidence []string `json:"evidence,omitempty"`
	// Line is the domain's line in the list.
	Line int       `json:"line,omitempty"`
	Time time.Time `json:"time"`
}

// Censored reports whether the record shows censorship.
func (r *Record) Censored() bool {
	return (r.Injected != nil && *r.Injected) || (r.Poisoned != nil && *r.Poisoned)
}

// Response is one DNS response as it arrived.
type Response struct {
	// From is the responding address (as the packet claims).
	From    string   `json:"from"`
	Rcode   string   `json:"rcode"`
	Answers []Answer `json:"answers"`
	// IPTTL is the IP TTL (hop limit) the packet arrived with: forged
	// packets often arrive with a TTL the real server's never have. -1
	// when the kernel did not say.
	IPTTL int `json:"ip_ttl"`
	// ArrivedMS is the time since the query was sent, in milliseconds.
	ArrivedMS float64 `json:"arrived_ms"`
}

// Answer is one resource record of a response's answer section.
type Answer struct {
	Name string `json:"name"`
	Type string `json:"type"`
	TTL  uint32 `json:"ttl"`
	Data string `json:"data"`
	// Bogon marks a private, loopback or reserved address: recorded,
	// never connected to.
	Bogon bool `json:"bogon,omitempty"`
}
