package scenario

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// A censor technique is one file, rule_<kind>.go, that holds its YAML
// fields, their validation and its documentation, and registers itself here;
// its parameters go in the Rule field of the same name. parse.go knows only
// the parts common to every rule (the kind key, probability, line).

// kind describes one censor technique to the parser.
type kind struct {
	name string   // the rule's key in a censor list, e.g. "dns-inject"
	doc  string   // one paragraph for users: what the censor does
	keys []string // the keys the rule accepts besides probability
	// parse reads the rule's fields into r.
	parse func(c *ruleCtx, r *Rule) error
}

// kinds holds the registered techniques by name.
var kinds = map[string]*kind{}

// Kinds lists every rule kind the censor implements, sorted by name.
var Kinds []string

// register adds a technique; it is called from the rule files' init.
func register(k *kind) {
	if _, dup := kinds[k.name]; dup {
		panic("scenario: rule kind registered twice: " + k.name)
	}
	kinds[k.name] = k
	i, _ := slices.BinarySearch(Kinds, k.name)
	Kinds = slices.Insert(Kinds, i, k.name)
}

// Doc returns the documentation of a rule kind, "" for an unknown kind.
func Doc(name string) string {
	if k, ok := kinds[name]; ok {
		return k.doc
	}
	return ""
}

// Keys returns the YAML keys a rule kind accepts (always with probability),
// nil for an unknown kind.
func Keys(name string) []string {
	k, ok := kinds[name]
	if !ok {
		return nil
	}
	return append(slices.Clone(k.keys), "probability")
}

// ruleCtx is what a technique's parse function reads: the rule's fields,
// the path of the rule in errors and the scenario parsed so far (its hosts).
type ruleCtx struct {
	p    *parser
	kf   field            // the kind key and its mapping
	f    map[string]field // the rule's fields by name
	path string           // e.g. "censor[2].drop"
	s    *Scenario
}

// at returns the dotted path of key in the rule.
func (c *ruleCtx) at(key string) string { return join(c.path, key) }

// need returns the field key, or an error naming it missing.
func (c *ruleCtx) need(key string) (field, error) {
	v, ok := c.f[key]
	if !ok {
		return v, c.p.errf(c.kf.val, c.at(key), "missing")
	}
	return v, nil
}

// ips reads the required "ips" list: addresses of the scenario's hosts.
func (c *ruleCtx) ips() ([]netip.Addr, error) {
	v, err := c.need("ips")
	if err != nil {
		return nil, err
	}
	items, err := c.p.list(v.val, c.at("ips"))
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, c.p.errf(v.val, c.at("ips"), "empty list")
	}
	var out []netip.Addr
	for j, it := range items {
		ip := fmt.Sprintf("%s.ips[%d]", c.path, j)
		a, err := c.p.hostAddr(it, ip)
		if err != nil {
			return nil, err
		}
		if _, ok := c.s.HostByIP(a); !ok {
			return nil, c.p.errf(it, ip, "no host has address %s", a)
		}
		out = append(out, a)
	}
	return out, nil
}

// hosts reads the required "hosts" list: names of the scenario's hosts.
func (c *ruleCtx) hosts() ([]string, error) {
	v, err := c.need("hosts")
	if err != nil {
		return nil, err
	}
	names, err := c.p.names(v.val, c.at("hosts"))
	if err != nil {
		return nil, err
	}
	for j, n := range names {
		if _, ok := c.s.HostByName(n); !ok {
			return nil, c.p.errf(v.val.Content[j], fmt.Sprintf("%s.hosts[%d]", c.path, j), "no host named %q", n)
		}
	}
	return names, nil
}

// ports reads the optional "ports" list; def when it is absent.
func (c *ruleCtx) ports(def ...uint16) ([]uint16, error) {
	v, ok := c.f["ports"]
	if !ok {
		return def, nil
	}
	items, err := c.p.list(v.val, c.at("ports"))
	if err != nil {
		return nil, err
	}
	var out []uint16
	for j, it := range items {
		pt, err := c.p.integer(it, fmt.Sprintf("%s.ports[%d]", c.path, j), 1, 65535)
		if err != nil {
			return nil, err
		}
		out = append(out, uint16(pt))
	}
	if len(out) == 0 {
		return def, nil
	}
	return out, nil
}

// oneOf reads the optional string key into *dst (left as is when absent)
// and checks it is one of want.
func (c *ruleCtx) oneOf(key string, dst *string, want ...string) error {
	v, ok := c.f[key]
	if !ok {
		return nil
	}
	s, err := c.p.str(v.val, c.at(key))
	if err != nil {
		return err
	}
	if !slices.Contains(want, s) {
		return c.p.errf(v.val, c.at(key), "want %s, got %q", orList(want), s)
	}
	*dst = s
	return nil
}

// orList writes "a or b", "a, b or c".
func orList(xs []string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

// rulesMarkdown renders the rule kinds as the table of docs/lab-censor.md.
func rulesMarkdown() string {
	var b strings.Builder
	b.WriteString("| rule | keys | what the censor does |\n| --- | --- | --- |\n")
	for _, name := range Kinds {
		keys := Keys(name)
		for i, k := range keys {
			keys[i] = "`" + k + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name, strings.Join(keys, ", "), kinds[name].doc)
	}
	return b.String()
}
