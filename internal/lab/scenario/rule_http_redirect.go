package scenario

// KindHTTPRedirect is the rule kind that redirects plain HTTP requests.
const KindHTTPRedirect = "http-redirect"

// HTTPRedirect answers plain HTTP requests for hosts with a redirect.
type HTTPRedirect struct {
	Hosts []string
	To    string
}

func init() {
	register(&kind{
		name: KindHTTPRedirect,
		doc:  "Answers plain HTTP requests (port 80) for the named hosts (exact names) with a 302 redirect to the URL to.",
		keys: []string{"hosts", "to"},
		parse: func(c *ruleCtx, r *Rule) error {
			h := &HTTPRedirect{}
			var err error
			if h.Hosts, err = c.hosts(); err != nil {
				return err
			}
			v, err := c.need("to")
			if err != nil {
				return err
			}
			if h.To, err = c.p.httpURL(v.val, c.at("to")); err != nil {
				return err
			}
			r.HTTPRedirect = h
			return nil
		},
	})
}
