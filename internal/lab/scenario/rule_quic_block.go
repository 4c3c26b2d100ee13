package scenario

import "net/netip"

// KindQUICBlock is the rule kind that blocks QUIC (HTTP/3's transport).
const KindQUICBlock = "quic-block"

// QUICBlock drops the UDP datagrams of QUIC: to the given ports (443 by
// default) of the hosts at IPs, or of every address when IPs is empty.
// TCP on the same ports is untouched, as censors that block HTTP/3 alone do.
type QUICBlock struct {
	IPs   []netip.Addr // empty: every destination
	Ports []uint16
}

// Matches reports whether a datagram to dst is dropped by the rule.
func (q *QUICBlock) Matches(dst netip.AddrPort) bool {
	a := dst.Addr().Unmap()
	inIPs := len(q.IPs) == 0
	for _, ip := range q.IPs {
		inIPs = inIPs || ip == a
	}
	for _, p := range q.Ports {
		if p == dst.Port() {
			return inIPs
		}
	}
	return false
}

func init() {
	register(&kind{
		name: KindQUICBlock,
		doc: "Drops every UDP datagram to and from ports (443 by default) of the hosts at ips (every address when ips is absent): " +
			"QUIC handshakes time out, so HTTP/3 fails while HTTPS over TCP on the same port still works.",
		keys: []string{"ips", "ports"},
		parse: func(c *ruleCtx, r *Rule) error {
			q := &QUICBlock{}
			var err error
			if _, ok := c.f["ips"]; ok {
				if q.IPs, err = c.ips(); err != nil {
					return err
				}
			}
			if q.Ports, err = c.ports(443); err != nil {
				return err
			}
			r.QUICBlock = q
			return nil
		},
	})
}
