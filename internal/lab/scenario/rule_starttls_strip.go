package scenario

import "net/netip"

// KindSTARTTLSStrip is the rule kind that strips STARTTLS from mail sessions.
const KindSTARTTLSStrip = "starttls-strip"

// STARTTLSStrip removes the STARTTLS (STLS) offer from plaintext mail
// sessions with matching servers and refuses the upgrade command, so that
// the client carries on in the clear.
type STARTTLSStrip struct {
	IPs   []netip.Addr
	Ports []uint16 // default 25, 587, 143, 110
}

func init() {
	register(&kind{
		name: KindSTARTTLSStrip,
		doc: "Overwrites the STARTTLS/STLS offer and the upgrade command in plaintext mail sessions with the hosts at ips " +
			"on ports (default 25, 587, 143, 110), so that the client carries on in the clear.",
		keys: []string{"ips", "ports"},
		parse: func(c *ruleCtx, r *Rule) error {
			st := &STARTTLSStrip{}
			var err error
			if st.IPs, err = c.ips(); err != nil {
				return err
			}
			if st.Ports, err = c.ports(25, 587, 143, 110); err != nil {
				return err
			}
			r.STARTTLSStrip = st
			return nil
		},
	})
}
