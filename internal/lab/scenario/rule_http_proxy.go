package scenario

import (
	"strings"
	"unicode/utf8"
)

// KindHTTPProxy is the rule kind of a transparent HTTP proxy at the ISP.
const KindHTTPProxy = "http-proxy"

// MaxInject bounds an http-proxy rule's inject snippet.
const MaxInject = 4096

// HTTPProxy sends plain HTTP requests for hosts through a transparent proxy
// that makes its own request to the server and relays the response,
// unchanged or with Inject inserted into HTML pages.
type HTTPProxy struct {
	Hosts  []string
	Inject string `json:",omitempty"` // HTML inserted before </body> (else appended); "" relays unchanged
}

func init() {
	register(&kind{
		name: KindHTTPProxy,
		doc: "Sends plain HTTP requests (port 80) for the named hosts (exact names) through a transparent proxy that makes its own " +
			"request to the server and relays the response: unchanged, or with the HTML fragment inject (e.g. a script) inserted " +
			"into HTML pages before </body> (else appended), Content-Length fixed.",
		keys: []string{"hosts", "inject"},
		parse: func(c *ruleCtx, r *Rule) error {
			h := &HTTPProxy{}
			var err error
			if h.Hosts, err = c.hosts(); err != nil {
				return err
			}
			if v, ok := c.f["inject"]; ok {
				if h.Inject, err = c.p.str(v.val, c.at("inject")); err != nil {
					return err
				}
				if msg := badInject(h.Inject); msg != "" {
					return c.p.errf(v.val, c.at("inject"), "%s", msg)
				}
			}
			r.HTTPProxy = h
			return nil
		},
	})
}

// badInject says what is wrong with an inject snippet, "" when it is an
// HTML fragment the proxy can insert.
func badInject(s string) string {
	t := strings.TrimSpace(s)
	switch {
	case t == "":
		return "empty; leave inject out for a proxy that rewrites nothing"
	case len(s) > MaxInject:
		return "longer than 4096 bytes"
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		return "want UTF-8 text without NUL bytes"
	case !strings.HasPrefix(t, "<") || !strings.HasSuffix(t, ">"):
		return "want an HTML fragment starting with < and ending with >, such as <script>...</script>"
	}
	return ""
}
