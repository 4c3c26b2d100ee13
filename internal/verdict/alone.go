package verdict

import (
	"fmt"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
)

// checkAlone finds, without a control, what the inside record proves by
// itself: chains that do not verify (tls.mitm, weakly: a misconfigured server
// looks the same), connections reset during TLS or HTTP, and pages matching a
// block-page signature on plain HTTP.
func (a *analysis) checkAlone() {
	hosts := a.judgedHosts()
	for _, s := range a.in.steps(model.OpTLSHandshake) {
		if !containsStr(hosts, sni(s)) || isV6(s) {
			continue
		}
		if tlsCompleted(s) && !s.TLS.Verified {
			ve := "not verified"
			if s.TLS.VerifyError != nil {
				ve = *s.TLS.VerifyError
			}
			a.add(model.MethodTLSMITM, fmt.Sprintf("%s (%s) presents %s, which does not verify (%s); without a control a misconfigured server cannot be ruled out",
				s.Address, sni(s), chainDesc(s), ve))
		}
		if failOf(s) == failure.ConnectionReset {
			a.add(model.MethodTLSReset, fmt.Sprintf("TLS handshake with %s for %s is reset (%s)", s.Address, sni(s), failOf(s)))
		}
	}
	for _, s := range a.in.steps(model.OpHTTPRoundTrip) {
		if s.HTTP == nil || isV6(s) || unsent(s) {
			continue
		}
		if failOf(s) == failure.ConnectionReset {
			a.add(model.MethodHTTPReset, fmt.Sprintf("GET %s is reset (%s)", s.HTTP.URL, failOf(s)))
		}
		if s.Failure == nil && schemeOf(s.HTTP.URL) == "http" {
			if sig := signature(s.HTTP); sig != "" {
				a.add(model.MethodHTTPBlockpage, fmt.Sprintf("%s: %d %q matches the block-page signature %q", s.HTTP.URL, s.HTTP.Status, s.HTTP.Title, sig))
			}
		}
	}
}

// judgedHosts are the hosts the weak verdict looks at: the target's and
// those its redirect chains ended at.
func (a *analysis) judgedHosts() []string {
	hosts := []string{a.host}
	for _, c := range a.in.chainsElsewhere(a.host) {
		if h := hostOf(c[len(c)-1].HTTP.URL); !containsStr(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts
}
