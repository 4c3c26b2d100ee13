package verdict

import (
	"fmt"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
)

// checkQUIC: HTTP/3's transport blocked inside only. Every QUIC handshake
// with the host's SNI at a genuine address fails inside by a timeout, a
// reset or a refusal, while outside one completes; not when the port was
// found blocked over TCP (an address blackholed drops UDP too) or DNS
// explains it. A QUIC handshake that fails on both sides, one that fails
// otherwise (a version or protocol error), or no attempt outside is the
// site's own HTTP/3 and names nothing: TCP HTTPS decides the rest.
func (a *analysis) checkQUIC() {
	if a.hostFlagged(a.host) {
		return
	}
	var ctlDone *model.Step
	for _, c := range a.ctl.steps(model.OpQUICHandshake) {
		if c.Failure == nil && sni(c) == a.host && !isV6(c) {
			ctlDone = c
			break
		}
	}
	if ctlDone == nil {
		return
	}
	var fails []*model.Step
	for _, s := range a.in.steps(model.OpQUICHandshake) {
		ip, port, ok := stepAddr(s)
		if !ok || !ip.Is4() || sni(s) != a.host || !a.judged(ip) {
			continue
		}
		if s.Failure == nil || a.tcpBlocked(port) {
			return
		}
		switch failOf(s) {
		case failure.GenericTimeout, failure.QUICStatelessReset, failure.ConnectionRefused, failure.ConnectionReset:
			fails = append(fails, s)
		default:
			return
		}
	}
	outcome := "completes"
	for _, h := range a.ctl.steps(model.OpHTTP3) {
		if h.HTTP != nil && h.Failure == nil {
			outcome = fmt.Sprintf("completes and HTTP/3 answers %d %q", h.HTTP.Status, h.HTTP.Title)
			break
		}
	}
	for _, s := range fails {
		a.add(model.MethodQUICBlocked, fmt.Sprintf("QUIC handshake with %s for %s fails inside (%s); outside the QUIC handshake with %s %s",
			s.Address, a.host, failOf(s), ctlDone.Address, outcome))
	}
}
