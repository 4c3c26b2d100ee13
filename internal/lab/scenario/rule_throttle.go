package scenario

import "net/netip"

// KindThrottle is the rule kind that rate-limits addresses.
const KindThrottle = "throttle"

// Throttle rate-limits traffic to and from addresses.
type Throttle struct {
	IPs  []netip.Addr
	Rate int64  // bits per second
	Text string // the rate as written, e.g. "4kbps"
}

func init() {
	register(&kind{
		name: KindThrottle,
		doc:  "Limits traffic to and from the hosts at ips to rate (e.g. 400kbps, 1.5mbps; decimal bits per second), dropping the excess.",
		keys: []string{"ips", "rate"},
		parse: func(c *ruleCtx, r *Rule) error {
			t := &Throttle{}
			var err error
			if t.IPs, err = c.ips(); err != nil {
				return err
			}
			v, err := c.need("rate")
			if err != nil {
				return err
			}
			if t.Text, err = c.p.str(v.val, c.at("rate")); err != nil {
				return err
			}
			if t.Rate, err = ParseRate(t.Text); err != nil {
				return c.p.errf(v.val, c.at("rate"), "%v", err)
			}
			r.Throttle = t
			return nil
		},
	})
}
