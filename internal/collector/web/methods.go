package web

import "github.com/firewatch/firewatch/internal/model"

// methodText explains each interference method in one plain sentence, for
// readers who are not network engineers (docs/verdicts.md has the rules).
var methodText = map[string]string{
	model.MethodDNSNXDomain:      "Inside, DNS says the name does not exist; outside it resolves.",
	model.MethodDNSBogon:         "Inside, DNS answers with a private or reserved address that cannot be the site.",
	model.MethodDNSInjected:      "A forged DNS answer races the genuine one: two answers to one query, the first one false.",
	model.MethodDNSInconsistent:  "Inside, DNS gives addresses that do not serve the site (another certificate, a block page).",
	model.MethodDNSTimeout:       "Inside, DNS queries for the name go unanswered; outside they are answered.",
	model.MethodDNSReset:         "Inside, DNS queries for the name over TCP are cut by a reset; outside they are answered.",
	model.MethodTCPTimeout:       "Connections to the site's genuine address time out inside; outside they succeed.",
	model.MethodTCPReset:         "Connections to the site's genuine address are reset or refused inside.",
	model.MethodTLSReset:         "The encrypted (TLS) connection is cut when it names the site: filtering by server name.",
	model.MethodTLSTimeout:       "The encrypted (TLS) connection stalls inside when it names the site.",
	model.MethodTLSMITM:          "Inside, a certificate the site did not present outside is shown: the connection is intercepted.",
	model.MethodTLSStripped:      "The mail server offers encryption (STARTTLS) outside but not inside: mail is left readable.",
	model.MethodHTTPReset:        "Web requests are cut after they are sent inside; outside they are answered.",
	model.MethodHTTPTimeout:      "Web requests go unanswered inside; outside they are answered.",
	model.MethodHTTPRedirect:     "Inside, the plain-HTTP request is redirected to a place the site never sends visitors.",
	model.MethodHTTPBlockpage:    "Inside, a block page is served instead of the site.",
	model.MethodHTTPTampered:     "Inside, the plain-HTTP page arrives with scripts or frames inserted that the site does not serve.",
	model.MethodSiteRedirect:     "Over a genuine encrypted connection, the site itself sends visitors inside elsewhere.",
	model.MethodDownloadTampered: "The downloaded file differs inside from the file outside.",
	model.MethodThrottled:        "Transfers inside run at under a tenth of the speed outside.",
	model.MethodQUICBlocked:      "HTTP/3 (QUIC) connections to the site fail inside; outside they succeed.",
}

// methodInfo is one line of the glossary.
type methodInfo struct{ Method, Text string }

func glossary() []methodInfo {
	out := make([]methodInfo, 0, len(model.Methods))
	for _, m := range model.Methods {
		out = append(out, methodInfo{m, methodText[m]})
	}
	return out
}
