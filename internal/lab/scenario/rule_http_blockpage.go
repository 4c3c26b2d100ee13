package scenario

// KindHTTPBlockpage is the rule kind that answers plain HTTP with a block page.
const KindHTTPBlockpage = "http-blockpage"

// HTTPBlockpage answers plain HTTP requests for hosts with a block page.
type HTTPBlockpage struct {
	Hosts  []string
	Status int // default 200
	Title  string
	Body   string
}

func init() {
	register(&kind{
		name: KindHTTPBlockpage,
		doc:  "Answers plain HTTP requests (port 80) for the named hosts (exact names) with a block page: status (default 200), title and body.",
		keys: []string{"hosts", "status", "title", "body"},
		parse: func(c *ruleCtx, r *Rule) error {
			p := c.p
			h := &HTTPBlockpage{Status: 200}
			var err error
			if h.Hosts, err = c.hosts(); err != nil {
				return err
			}
			if v, ok := c.f["status"]; ok {
				st, err := p.integer(v.val, c.at("status"), 100, 599)
				if err != nil {
					return err
				}
				h.Status = int(st)
			}
			if v, ok := c.f["title"]; ok {
				if h.Title, err = p.str(v.val, c.at("title")); err != nil {
					return err
				}
			}
			if v, ok := c.f["body"]; ok {
				if h.Body, err = p.str(v.val, c.at("body")); err != nil {
					return err
				}
			}
			r.HTTPBlockpage = h
			return nil
		},
	})
}
