package scenario

import "slices"

// KindKeywordDrop is the rule kind that silently drops connections on keywords.
const KindKeywordDrop = "keyword-drop"

// KeywordDrop drops, silently and from then on, every packet of a TCP
// connection in which a keyword appears: the same keys and matching as
// Reset, another outcome (a timeout instead of a reset).
type KeywordDrop struct {
	Keywords []string // lower case; matched case-insensitively
	Where    []string // "http" (request line, Host header) and/or "sni"
}

// Has reports whether where lists w.
func (k *KeywordDrop) Has(w string) bool { return slices.Contains(k.Where, w) }

func init() {
	register(&kind{
		name: KindKeywordDrop,
		doc: "Drops the packet and every later packet of the TCP connection, both ways and silently, when one of keywords appears " +
			"as for reset (plain HTTP request line or Host header with where: http, TLS ClientHello's SNI with where: sni, ports 80 and 443; both by default): " +
			"the connect succeeds, then the TLS handshake or the HTTP request times out.",
		keys: []string{"keywords", "where"},
		parse: func(c *ruleCtx, r *Rule) error {
			rs, err := c.keywordRule()
			if err != nil {
				return err
			}
			r.KeywordDrop = &KeywordDrop{Keywords: rs.Keywords, Where: rs.Where}
			return nil
		},
	})
}
