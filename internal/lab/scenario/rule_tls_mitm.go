package scenario

import "net/netip"

// KindTLSMITM is the rule kind that intercepts TLS.
const KindTLSMITM = "tls-mitm"

// Rogue CA trust settings of a tls-mitm rule.
const (
	CARogue        = "rogue"         // the rogue CA is trusted by nobody
	CARogueTrusted = "rogue-trusted" // the inside vantage trusts the rogue CA
)

// TLSMITM terminates TLS toward matching servers with certificates of the rogue CA.
type TLSMITM struct {
	IPs   []netip.Addr
	Ports []uint16
	CA    string // CARogue or CARogueTrusted
}

// Trusted reports whether the inside vantage trusts the rogue CA.
func (m *TLSMITM) Trusted() bool { return m.CA == CARogueTrusted }

func init() {
	register(&kind{
		name: KindTLSMITM,
		doc: "Intercepts TLS to the hosts at ips on ports (default 443; mail ports use STARTTLS where the protocol has it) " +
			"with certificates of the lab's rogue CA: ca rogue (default) is trusted by nobody, rogue-trusted by the inside vantage.",
		keys: []string{"ips", "ports", "ca"},
		parse: func(c *ruleCtx, r *Rule) error {
			m := &TLSMITM{CA: CARogue}
			var err error
			if m.IPs, err = c.ips(); err != nil {
				return err
			}
			if m.Ports, err = c.ports(443); err != nil {
				return err
			}
			if err := c.oneOf("ca", &m.CA, CARogue, CARogueTrusted); err != nil {
				return err
			}
			r.TLSMITM = m
			return nil
		},
	})
}
