package scenario

import (
	"fmt"
	"slices"
	"strings"
)

// KindReset is the rule kind that resets connections on keywords.
const KindReset = "reset"

// Reset injects TCP resets when a keyword appears in a request.
type Reset struct {
	Keywords []string // lower case; matched case-insensitively
	Where    []string // "http" (request line, Host header) and/or "sni"
}

// Has reports whether where lists w.
func (r *Reset) Has(w string) bool { return slices.Contains(r.Where, w) }

func init() {
	register(&kind{
		name: KindReset,
		doc: "Resets the TCP connection (a forged RST to both ends) when one of keywords appears, case-insensitively, " +
			"in a plain HTTP request line or Host header (where: http) or in a TLS ClientHello's SNI (where: sni), on ports 80 and 443; both by default.",
		keys:  []string{"keywords", "where"},
		parse: parseReset,
	})
}

func parseReset(c *ruleCtx, r *Rule) error {
	rs, err := c.keywordRule()
	if err != nil {
		return err
	}
	r.Reset = rs
	return nil
}

// keywordRule reads the keys of a rule that matches keywords in requests
// (reset, keyword-drop): keywords and where.
func (c *ruleCtx) keywordRule() (*Reset, error) {
	p := c.p
	rs := &Reset{Where: []string{"http", "sni"}}
	v, err := c.need("keywords")
	if err != nil {
		return nil, err
	}
	if rs.Keywords, err = p.strs(v.val, c.at("keywords")); err != nil {
		return nil, err
	}
	if len(rs.Keywords) == 0 {
		return nil, p.errf(v.val, c.at("keywords"), "empty list")
	}
	for j, k := range rs.Keywords {
		if k == "" {
			return nil, p.errf(v.val.Content[j], fmt.Sprintf("%s.keywords[%d]", c.path, j), "empty keyword")
		}
		rs.Keywords[j] = strings.ToLower(k)
	}
	if w, ok := c.f["where"]; ok {
		if rs.Where, err = p.strs(w.val, c.at("where")); err != nil {
			return nil, err
		}
		if len(rs.Where) == 0 {
			return nil, p.errf(w.val, c.at("where"), "empty list")
		}
		for j, x := range rs.Where {
			if x != "http" && x != "sni" {
				return nil, p.errf(w.val.Content[j], fmt.Sprintf("%s.where[%d]", c.path, j), "want http or sni, got %q", x)
			}
		}
	}
	return rs, nil
}
