package scenario

// KindDNSTCP is the rule kind that cuts DNS queries over TCP.
const KindDNSTCP = "dns-tcp"

// Actions of a dns-tcp rule.
const (
	ActionReset = "reset" // a forged RST to both ends
	ActionDrop  = "drop"  // every later packet of the connection dropped, both ways
)

// DNSTCP cuts TCP connections to port 53 that carry a DNS query for one of
// its names (the same patterns as dns-inject): with a reset, or by dropping
// the rest of the connection.
type DNSTCP struct {
	NamePatterns
	Action string // ActionReset or ActionDrop
}

func init() {
	register(&kind{
		name: KindDNSTCP,
		doc: "Cuts DNS over TCP: on a TCP connection to port 53 crossing the censor, a query (2-byte length and message, " +
			"possibly split over two packets) for one of the names (names and names_file, the entries of dns-inject: name, =name, *.name, ~keyword) " +
			"is answered with an RST to both ends (action: reset, the default; the query never reaches the resolver) " +
			"or silences the connection both ways from then on (action: drop; the query times out). DNS over UDP is untouched.",
		keys: []string{"names", "names_file", "action"},
		parse: func(c *ruleCtx, r *Rule) error {
			d := &DNSTCP{Action: ActionReset}
			if err := c.namePatterns(&d.NamePatterns); err != nil {
				return err
			}
			if err := c.oneOf("action", &d.Action, ActionReset, ActionDrop); err != nil {
				return err
			}
			r.DNSTCP = d
			return nil
		},
	})
}
