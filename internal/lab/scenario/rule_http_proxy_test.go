package scenario

import "testing"

// TestHTTPProxy checks an http-proxy rule's hosts and inject, absent for a
// proxy that rewrites nothing.
func TestHTTPProxy(t *testing.T) {
	t.Parallel()
	y := `name: p
hosts:
  - {names: [plain.example], ip: 203.0.113.10, services: [http]}
  - {names: [inj.example, www.inj.example], ip: 203.0.113.11, services: [http]}
censor:
  - http-proxy: {hosts: [plain.example]}
  - http-proxy: {hosts: [inj.example], inject: "<script src=\"http://ads.example/a.js\"></script>"}
`
	s, err := Parse("f.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		hosts  []string
		inject string
	}{
		{"no rewrite", []string{"plain.example"}, ""},
		{"inject", []string{"inj.example"}, `<script src="http://ads.example/a.js"></script>`},
	}
	for i, c := range cases {
		p := s.Censor[i].HTTPProxy
		if p == nil || s.Censor[i].Kind != KindHTTPProxy {
			t.Fatalf("%s: got rule %+v, want an http-proxy", c.name, s.Censor[i])
		}
		if len(p.Hosts) != len(c.hosts) || p.Hosts[0] != c.hosts[0] || p.Inject != c.inject {
			t.Errorf("%s: got hosts %v inject %q, want %v %q", c.name, p.Hosts, p.Inject, c.hosts, c.inject)
		}
	}
}
