package scenario

import "net/netip"

// KindDrop is the rule kind that blackholes addresses.
const KindDrop = "drop"

// Drop blackholes traffic to and from addresses, optionally only some ports.
type Drop struct {
	IPs   []netip.Addr
	Ports []uint16 // empty means every port (and every protocol)
}

func init() {
	register(&kind{
		name: KindDrop,
		doc: "Silently drops every packet to and from the hosts at ips (a blackhole: connections time out), " +
			"or only those of the given TCP/UDP ports.",
		keys: []string{"ips", "ports"},
		parse: func(c *ruleCtx, r *Rule) error {
			d := &Drop{}
			var err error
			if d.IPs, err = c.ips(); err != nil {
				return err
			}
			if d.Ports, err = c.ports(); err != nil {
				return err
			}
			r.Drop = d
			return nil
		},
	})
}
