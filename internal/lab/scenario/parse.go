package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/firewatch/firewatch/internal/addrclass"
	"github.com/firewatch/firewatch/internal/model"
	"go.yaml.in/yaml/v3"
)

// maxFileSize bounds the size of a generated file page (4 GiB).
const maxFileSize = 4 << 30

// Error is a problem in a scenario file, located by file, line and key.
type Error struct {
	File string
	Line int
	Key  string // dotted path of the offending key, e.g. "censor[2].drop.ips"
	Msg  string
}

func (e *Error) Error() string {
	loc := e.File
	if loc == "" {
		loc = "scenario"
	}
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Key != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Key, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// Load reads and validates the scenario file at path.
func Load(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

// Parse reads and validates a scenario; file names the source in errors.
func Parse(file string, data []byte) (*Scenario, error) {
	p := &parser{file: file}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Msg: "empty scenario"}
		}
		return nil, &Error{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: file, Line: extra.Line, Msg: "more than one YAML document"}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	s, err := p.scenario(root)
	if err != nil {
		return nil, err
	}
	return s, nil
}

type parser struct{ file string }

func (p *parser) errf(n *yaml.Node, key, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{File: p.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// field is one key of a mapping with its key and value nodes.
type field struct {
	name     string
	key, val *yaml.Node
}

// mapping checks that n is a mapping whose keys are all in allowed, without
// duplicates, and returns its fields by name.
func (p *parser) mapping(n *yaml.Node, path string, allowed ...string) (map[string]field, error) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return nil, p.errf(n, path, "want a mapping, got %s", kindName(n))
	}
	out := make(map[string]field, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return nil, p.errf(k, path, "keys must be plain strings")
		}
		name := k.Value
		if !slices.Contains(allowed, name) {
			return nil, p.errf(k, join(path, name), "unknown key (want one of %s)", strings.Join(allowed, ", "))
		}
		if _, dup := out[name]; dup {
			return nil, p.errf(k, join(path, name), "duplicate key")
		}
		out[name] = field{name: name, key: k, val: v}
	}
	return out, nil
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (p *parser) str(n *yaml.Node, path string) (string, error) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", p.errf(n, path, "want a string, got %s", kindName(n))
	}
	return n.Value, nil
}

func (p *parser) list(n *yaml.Node, path string) ([]*yaml.Node, error) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n, path, "want a list, got %s", kindName(n))
	}
	return n.Content, nil
}

func (p *parser) strs(n *yaml.Node, path string) ([]string, error) {
	items, err := p.list(n, path)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		s, err := p.str(it, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (p *parser) integer(n *yaml.Node, path string, lo, hi int64) (int64, error) {
	s, err := p.str(n, path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 64)
	if err != nil {
		return 0, p.errf(n, path, "want an integer, got %q", s)
	}
	if v < lo || v > hi {
		return 0, p.errf(n, path, "%d out of range %d..%d", v, lo, hi)
	}
	return v, nil
}

var labelRe = regexp.MustCompile(`^[a-z0-9_]([a-z0-9-]{0,61}[a-z0-9])?$`)

// dnsName validates and normalizes a host name.
func (p *parser) dnsName(n *yaml.Node, path string) (string, error) {
	s, err := p.str(n, path)
	if err != nil {
		return "", err
	}
	name := normName(s)
	if name == "" || len(name) > 253 {
		return "", p.errf(n, path, "invalid host name %q", s)
	}
	for _, l := range strings.Split(name, ".") {
		if !labelRe.MatchString(l) {
			return "", p.errf(n, path, "invalid host name %q", s)
		}
	}
	return name, nil
}

func (p *parser) names(n *yaml.Node, path string) ([]string, error) {
	items, err := p.list(n, path)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, p.errf(n, path, "empty list")
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		name, err := p.dnsName(it, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		if slices.Contains(out, name) {
			return nil, p.errf(it, fmt.Sprintf("%s[%d]", path, i), "duplicate name %q", name)
		}
		out = append(out, name)
	}
	return out, nil
}

func (p *parser) addr(n *yaml.Node, path string) (netip.Addr, error) {
	s, err := p.str(n, path)
	if err != nil {
		return netip.Addr{}, err
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, p.errf(n, path, "invalid IP address %q", s)
	}
	return a.Unmap(), nil
}

// hostAddr parses an address that must belong to a lab host: IPv4 TEST-NET.
func (p *parser) hostAddr(n *yaml.Node, path string) (netip.Addr, error) {
	a, err := p.addr(n, path)
	if err != nil {
		return a, err
	}
	if !addrclass.IsTestNet(a) {
		return netip.Addr{}, p.errf(n, path, "%s is not a TEST-NET address (%s)", a, addrclass.TestNetList(", "))
	}
	return a, nil
}

func (p *parser) scenario(root *yaml.Node) (*Scenario, error) {
	f, err := p.mapping(root, "", "name", "description", "network", "seed", "hosts", "censor", "expect")
	if err != nil {
		return nil, err
	}
	s := &Scenario{}
	nf, ok := f["name"]
	if !ok {
		return nil, p.errf(root, "name", "missing")
	}
	if s.Name, err = p.str(nf.val, "name"); err != nil {
		return nil, err
	}
	if s.Name == "" {
		return nil, p.errf(nf.val, "name", "empty")
	}
	if d, ok := f["description"]; ok {
		if s.Description, err = p.str(d.val, "description"); err != nil {
			return nil, err
		}
	}
	if nw, ok := f["network"]; ok {
		if s.Network, err = p.network(nw.val); err != nil {
			return nil, err
		}
	}
	if v, ok := f["seed"]; ok {
		if s.Seed, err = p.integer(v.val, "seed", 1, math.MaxInt64); err != nil {
			return nil, err
		}
	}
	if h, ok := f["hosts"]; ok {
		if s.Hosts, err = p.hosts(h.val); err != nil {
			return nil, err
		}
	}
	if c, ok := f["censor"]; ok {
		if s.Censor, err = p.rules(c.val, s); err != nil {
			return nil, err
		}
	}
	if e, ok := f["expect"]; ok {
		if s.Expect, err = p.expects(e.val); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (p *parser) network(n *yaml.Node) (*Network, error) {
	f, err := p.mapping(n, "network", "country", "asn", "name")
	if err != nil {
		return nil, err
	}
	nw := &Network{}
	if v, ok := f["country"]; ok {
		if nw.Country, err = p.str(v.val, "network.country"); err != nil {
			return nil, err
		}
		nw.Country = strings.ToUpper(nw.Country)
		if len(nw.Country) != 2 || nw.Country[0] < 'A' || nw.Country[0] > 'Z' || nw.Country[1] < 'A' || nw.Country[1] > 'Z' {
			return nil, p.errf(v.val, "network.country", "want a two-letter country code, got %q", v.val.Value)
		}
	}
	if v, ok := f["asn"]; ok {
		if nw.ASN, err = p.str(v.val, "network.asn"); err != nil {
			return nil, err
		}
		num := strings.TrimPrefix(strings.ToUpper(nw.ASN), "AS")
		if _, err := strconv.ParseUint(num, 10, 32); err != nil {
			return nil, p.errf(v.val, "network.asn", "want an AS number like AS4134, got %q", nw.ASN)
		}
		nw.ASN = "AS" + num
	}
	if v, ok := f["name"]; ok {
		if nw.Name, err = p.str(v.val, "network.name"); err != nil {
			return nil, err
		}
	}
	return nw, nil
}

func (p *parser) hosts(n *yaml.Node) ([]Host, error) {
	items, err := p.list(n, "hosts")
	if err != nil {
		return nil, err
	}
	seenName := map[string]int{}
	seenIP := map[netip.Addr]int{}
	var out []Host
	for i, it := range items {
		path := fmt.Sprintf("hosts[%d]", i)
		f, err := p.mapping(it, path, "names", "ip", "services", "pages", "inside")
		if err != nil {
			return nil, err
		}
		h := Host{Line: deref(it).Line}
		nf, ok := f["names"]
		if !ok {
			return nil, p.errf(it, join(path, "names"), "missing")
		}
		if h.Names, err = p.names(nf.val, join(path, "names")); err != nil {
			return nil, err
		}
		for j, name := range h.Names {
			if line, dup := seenName[name]; dup {
				return nil, p.errf(nf.val.Content[j], fmt.Sprintf("%s.names[%d]", path, j), "duplicate name %q (already at line %d)", name, line)
			}
			seenName[name] = nf.val.Content[j].Line
		}
		ipf, ok := f["ip"]
		if !ok {
			return nil, p.errf(it, join(path, "ip"), "missing")
		}
		if h.IP, err = p.hostAddr(ipf.val, join(path, "ip")); err != nil {
			return nil, err
		}
		if line, dup := seenIP[h.IP]; dup {
			return nil, p.errf(ipf.val, join(path, "ip"), "duplicate address %s (already at line %d)", h.IP, line)
		}
		seenIP[h.IP] = ipf.val.Line
		if sf, ok := f["services"]; ok {
			if h.Services, err = p.strs(sf.val, join(path, "services")); err != nil {
				return nil, err
			}
			for j, s := range h.Services {
				sp := fmt.Sprintf("%s.services[%d]", path, j)
				if !slices.Contains(Services, s) {
					return nil, p.errf(sf.val.Content[j], sp, "unknown service %q (want one of %s)", s, strings.Join(Services, ", "))
				}
				if slices.Index(h.Services, s) != j {
					return nil, p.errf(sf.val.Content[j], sp, "duplicate service %q", s)
				}
			}
		}
		if pf, ok := f["pages"]; ok {
			if h.Pages, err = p.pages(pf.val, join(path, "pages")); err != nil {
				return nil, err
			}
		}
		if inf, ok := f["inside"]; ok {
			if h.Inside, err = p.inside(inf.val, join(path, "inside")); err != nil {
				return nil, err
			}
			if h.Inside.IP.IsValid() {
				ipn := deref(inf.val)
				for j := 0; j+1 < len(ipn.Content); j += 2 {
					if ipn.Content[j].Value == "ip" {
						ipn = ipn.Content[j+1]
						break
					}
				}
				if line, dup := seenIP[h.Inside.IP]; dup {
					return nil, p.errf(ipn, join(path, "inside.ip"), "duplicate address %s (already at line %d)", h.Inside.IP, line)
				}
				seenIP[h.Inside.IP] = ipn.Line
			}
		}
		out = append(out, h)
	}
	return out, nil
}

func (p *parser) pages(n *yaml.Node, path string) (map[string]Page, error) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return nil, p.errf(n, path, "want a mapping of paths to pages, got %s", kindName(n))
	}
	out := map[string]Page{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		pp := join(path, k.Value)
		if k.Kind != yaml.ScalarNode || !strings.HasPrefix(k.Value, "/") || strings.ContainsAny(k.Value, " \t\r\n?#") {
			return nil, p.errf(k, pp, "a page path must start with / and contain no spaces, ? or #")
		}
		if _, dup := out[k.Value]; dup {
			return nil, p.errf(k, pp, "duplicate page")
		}
		pg, err := p.page(v, pp)
		if err != nil {
			return nil, err
		}
		out[k.Value] = pg
	}
	return out, nil
}

func (p *parser) page(n *yaml.Node, path string) (Page, error) {
	f, err := p.mapping(n, path, "title", "body", "size", "seed", "status")
	if err != nil {
		return Page{}, err
	}
	var pg Page
	if v, ok := f["title"]; ok {
		if pg.Title, err = p.str(v.val, join(path, "title")); err != nil {
			return pg, err
		}
	}
	if v, ok := f["body"]; ok {
		if pg.Body, err = p.str(v.val, join(path, "body")); err != nil {
			return pg, err
		}
	}
	if v, ok := f["size"]; ok {
		if pg.Size, err = p.integer(v.val, join(path, "size"), 1, maxFileSize); err != nil {
			return pg, err
		}
	}
	if v, ok := f["seed"]; ok {
		if pg.Seed, err = p.str(v.val, join(path, "seed")); err != nil {
			return pg, err
		}
		if pg.Size == 0 {
			return pg, p.errf(v.key, join(path, "seed"), "a seed needs a size")
		}
	}
	if v, ok := f["status"]; ok {
		st, err := p.integer(v.val, join(path, "status"), 100, 599)
		if err != nil {
			return pg, err
		}
		pg.Status = int(st)
	}
	if pg.Size > 0 && (pg.Title != "" || pg.Body != "") {
		return pg, p.errf(n, path, "a page is either a file (size, seed) or HTML (title, body), not both")
	}
	return pg, nil
}

func (p *parser) inside(n *yaml.Node, path string) (*InsideBehavior, error) {
	f, err := p.mapping(n, path, "redirect", "pages", "ip")
	if err != nil {
		return nil, err
	}
	ib := &InsideBehavior{}
	if v, ok := f["ip"]; ok {
		if ib.IP, err = p.hostAddr(v.val, join(path, "ip")); err != nil {
			return nil, err
		}
	}
	if v, ok := f["redirect"]; ok {
		if ib.Redirect, err = p.httpURL(v.val, join(path, "redirect")); err != nil {
			return nil, err
		}
	}
	if v, ok := f["pages"]; ok {
		if ib.Pages, err = p.pages(v.val, join(path, "pages")); err != nil {
			return nil, err
		}
	}
	return ib, nil
}

func (p *parser) httpURL(n *yaml.Node, path string) (string, error) {
	s, err := p.str(n, path)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", p.errf(n, path, "want an http:// or https:// URL, got %q", s)
	}
	return s, nil
}

func (p *parser) rules(n *yaml.Node, s *Scenario) ([]Rule, error) {
	items, err := p.list(n, "censor")
	if err != nil {
		return nil, err
	}
	var out []Rule
	for i, it := range items {
		path := fmt.Sprintf("censor[%d]", i)
		it = deref(it)
		f, err := p.mapping(it, path, Kinds...)
		if err != nil {
			return nil, err
		}
		if len(f) != 1 {
			return nil, p.errf(it, path, "a rule has exactly one kind (one of %s)", strings.Join(Kinds, ", "))
		}
		var kf field
		for _, v := range f {
			kf = v
		}
		r, err := p.rule(kf, join(path, kf.name), s)
		if err != nil {
			return nil, err
		}
		r.Line = kf.key.Line
		out = append(out, r)
	}
	return out, nil
}

// ruleKeys lists the keys each rule kind accepts (besides probability).
var ruleKeys = map[string][]string{
	KindDNSInject:     {"names", "answers", "rcode", "mode"},
	KindDrop:          {"ips", "ports"},
	KindReset:         {"keywords", "where"},
	KindTLSMITM:       {"ips", "ports", "ca"},
	KindHTTPRedirect:  {"hosts", "to"},
	KindHTTPBlockpage: {"hosts", "status", "title", "body"},
	KindThrottle:      {"ips", "rate"},
	KindSTARTTLSStrip: {"ips", "ports"},
}

var rcodes = []string{"noerror", "formerr", "servfail", "nxdomain", "notimp", "refused"}

func (p *parser) rule(kf field, path string, s *Scenario) (Rule, error) {
	r := Rule{Kind: kf.name}
	f, err := p.mapping(kf.val, path, append(slices.Clone(ruleKeys[kf.name]), "probability")...)
	if err != nil {
		return r, err
	}
	need := func(key string) (field, error) {
		v, ok := f[key]
		if !ok {
			return v, p.errf(kf.val, join(path, key), "missing")
		}
		return v, nil
	}
	if v, ok := f["probability"]; ok {
		ps, err := p.str(v.val, join(path, "probability"))
		if err != nil {
			return r, err
		}
		pr, err := strconv.ParseFloat(ps, 64)
		if err != nil || math.IsNaN(pr) || pr < 0 || pr > 1 {
			return r, p.errf(v.val, join(path, "probability"), "want a number from 0.0 to 1.0, got %q", ps)
		}
		r.Probability = &pr
	}
	switch kf.name {
	case KindDNSInject:
		d := &DNSInject{Mode: ModeRace}
		nf, err := need("names")
		if err != nil {
			return r, err
		}
		if d.Names, err = p.names(nf.val, join(path, "names")); err != nil {
			return r, err
		}
		for j, name := range d.Names {
			if !s.coversHost(name) {
				return r, p.errf(nf.val.Content[j], fmt.Sprintf("%s.names[%d]", path, j), "no host named %q or below it", name)
			}
		}
		if v, ok := f["answers"]; ok {
			items, err := p.list(v.val, join(path, "answers"))
			if err != nil {
				return r, err
			}
			for j, it := range items {
				ap := fmt.Sprintf("%s.answers[%d]", path, j)
				a, err := p.addr(it, ap)
				if err != nil {
					return r, err
				}
				if !addrclass.IsTestNet(a) && !addrclass.IsBogon(a) {
					return r, p.errf(it, ap, "%s is neither a TEST-NET address nor a bogon (private, loopback, reserved)", a)
				}
				d.Answers = append(d.Answers, a)
			}
		}
		if v, ok := f["rcode"]; ok {
			rc, err := p.str(v.val, join(path, "rcode"))
			if err != nil {
				return r, err
			}
			d.Rcode = strings.ToLower(rc)
			if !slices.Contains(rcodes, d.Rcode) {
				return r, p.errf(v.val, join(path, "rcode"), "unknown rcode %q (want one of %s)", rc, strings.Join(rcodes, ", "))
			}
		}
		if len(d.Answers) == 0 && d.Rcode == "" {
			return r, p.errf(kf.val, path, "needs answers or an rcode")
		}
		if len(d.Answers) > 0 && d.Rcode != "" && d.Rcode != "noerror" {
			return r, p.errf(f["rcode"].val, join(path, "rcode"), "answers need rcode noerror")
		}
		if v, ok := f["mode"]; ok {
			if d.Mode, err = p.str(v.val, join(path, "mode")); err != nil {
				return r, err
			}
			if d.Mode != ModeRace && d.Mode != ModeReplace {
				return r, p.errf(v.val, join(path, "mode"), "want race or replace, got %q", d.Mode)
			}
		}
		r.DNSInject = d
	case KindDrop:
		d := &Drop{}
		if d.IPs, err = p.ruleIPs(f, kf, path, s); err != nil {
			return r, err
		}
		if d.Ports, err = p.ports(f, path); err != nil {
			return r, err
		}
		r.Drop = d
	case KindReset:
		rs := &Reset{Where: []string{"http", "sni"}}
		v, err := need("keywords")
		if err != nil {
			return r, err
		}
		if rs.Keywords, err = p.strs(v.val, join(path, "keywords")); err != nil {
			return r, err
		}
		if len(rs.Keywords) == 0 {
			return r, p.errf(v.val, join(path, "keywords"), "empty list")
		}
		for j, k := range rs.Keywords {
			if k == "" {
				return r, p.errf(v.val.Content[j], fmt.Sprintf("%s.keywords[%d]", path, j), "empty keyword")
			}
			rs.Keywords[j] = strings.ToLower(k)
		}
		if w, ok := f["where"]; ok {
			if rs.Where, err = p.strs(w.val, join(path, "where")); err != nil {
				return r, err
			}
			if len(rs.Where) == 0 {
				return r, p.errf(w.val, join(path, "where"), "empty list")
			}
			for j, x := range rs.Where {
				if x != "http" && x != "sni" {
					return r, p.errf(w.val.Content[j], fmt.Sprintf("%s.where[%d]", path, j), "want http or sni, got %q", x)
				}
			}
		}
		r.Reset = rs
	case KindTLSMITM:
		m := &TLSMITM{CA: CARogue}
		if m.IPs, err = p.ruleIPs(f, kf, path, s); err != nil {
			return r, err
		}
		if m.Ports, err = p.ports(f, path); err != nil {
			return r, err
		}
		if len(m.Ports) == 0 {
			m.Ports = []uint16{443}
		}
		if v, ok := f["ca"]; ok {
			if m.CA, err = p.str(v.val, join(path, "ca")); err != nil {
				return r, err
			}
			if m.CA != CARogue && m.CA != CARogueTrusted {
				return r, p.errf(v.val, join(path, "ca"), "want rogue or rogue-trusted, got %q", m.CA)
			}
		}
		r.TLSMITM = m
	case KindHTTPRedirect:
		h := &HTTPRedirect{}
		if h.Hosts, err = p.ruleHosts(f, kf, path, s); err != nil {
			return r, err
		}
		v, err := need("to")
		if err != nil {
			return r, err
		}
		if h.To, err = p.httpURL(v.val, join(path, "to")); err != nil {
			return r, err
		}
		r.HTTPRedirect = h
	case KindHTTPBlockpage:
		h := &HTTPBlockpage{Status: 200}
		if h.Hosts, err = p.ruleHosts(f, kf, path, s); err != nil {
			return r, err
		}
		if v, ok := f["status"]; ok {
			st, err := p.integer(v.val, join(path, "status"), 100, 599)
			if err != nil {
				return r, err
			}
			h.Status = int(st)
		}
		if v, ok := f["title"]; ok {
			if h.Title, err = p.str(v.val, join(path, "title")); err != nil {
				return r, err
			}
		}
		if v, ok := f["body"]; ok {
			if h.Body, err = p.str(v.val, join(path, "body")); err != nil {
				return r, err
			}
		}
		r.HTTPBlockpage = h
	case KindThrottle:
		t := &Throttle{}
		if t.IPs, err = p.ruleIPs(f, kf, path, s); err != nil {
			return r, err
		}
		v, err := need("rate")
		if err != nil {
			return r, err
		}
		if t.Text, err = p.str(v.val, join(path, "rate")); err != nil {
			return r, err
		}
		if t.Rate, err = ParseRate(t.Text); err != nil {
			return r, p.errf(v.val, join(path, "rate"), "%v", err)
		}
		r.Throttle = t
	case KindSTARTTLSStrip:
		st := &STARTTLSStrip{}
		if st.IPs, err = p.ruleIPs(f, kf, path, s); err != nil {
			return r, err
		}
		if st.Ports, err = p.ports(f, path); err != nil {
			return r, err
		}
		if len(st.Ports) == 0 {
			st.Ports = []uint16{25, 587, 143, 110}
		}
		r.STARTTLSStrip = st
	}
	return r, nil
}

// coversHost reports whether name is a host's name or a parent of one.
func (s *Scenario) coversHost(name string) bool {
	for _, h := range s.Hosts {
		for _, hn := range h.Names {
			if MatchesAny([]string{name}, hn) {
				return true
			}
		}
	}
	return false
}

func (p *parser) ruleIPs(f map[string]field, kf field, path string, s *Scenario) ([]netip.Addr, error) {
	v, ok := f["ips"]
	if !ok {
		return nil, p.errf(kf.val, join(path, "ips"), "missing")
	}
	items, err := p.list(v.val, join(path, "ips"))
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, p.errf(v.val, join(path, "ips"), "empty list")
	}
	var out []netip.Addr
	for j, it := range items {
		ip := fmt.Sprintf("%s.ips[%d]", path, j)
		a, err := p.hostAddr(it, ip)
		if err != nil {
			return nil, err
		}
		if _, ok := s.HostByIP(a); !ok {
			return nil, p.errf(it, ip, "no host has address %s", a)
		}
		out = append(out, a)
	}
	return out, nil
}

func (p *parser) ruleHosts(f map[string]field, kf field, path string, s *Scenario) ([]string, error) {
	v, ok := f["hosts"]
	if !ok {
		return nil, p.errf(kf.val, join(path, "hosts"), "missing")
	}
	names, err := p.names(v.val, join(path, "hosts"))
	if err != nil {
		return nil, err
	}
	for j, n := range names {
		if _, ok := s.HostByName(n); !ok {
			return nil, p.errf(v.val.Content[j], fmt.Sprintf("%s.hosts[%d]", path, j), "no host named %q", n)
		}
	}
	return names, nil
}

func (p *parser) ports(f map[string]field, path string) ([]uint16, error) {
	v, ok := f["ports"]
	if !ok {
		return nil, nil
	}
	items, err := p.list(v.val, join(path, "ports"))
	if err != nil {
		return nil, err
	}
	var out []uint16
	for j, it := range items {
		pt, err := p.integer(it, fmt.Sprintf("%s.ports[%d]", path, j), 1, 65535)
		if err != nil {
			return nil, err
		}
		out = append(out, uint16(pt))
	}
	return out, nil
}

func (p *parser) expects(n *yaml.Node) ([]Expect, error) {
	items, err := p.list(n, "expect")
	if err != nil {
		return nil, err
	}
	statuses := model.VerdictStatuses()
	var out []Expect
	for i, it := range items {
		path := fmt.Sprintf("expect[%d]", i)
		f, err := p.mapping(it, path, "target", "status", "methods", "resolver")
		if err != nil {
			return nil, err
		}
		e := Expect{Line: deref(it).Line}
		v, ok := f["target"]
		if !ok {
			return nil, p.errf(it, join(path, "target"), "missing")
		}
		if e.Target, err = p.str(v.val, join(path, "target")); err != nil {
			return nil, err
		}
		if e.Target == "" {
			return nil, p.errf(v.val, join(path, "target"), "empty")
		}
		v, ok = f["status"]
		if !ok {
			return nil, p.errf(it, join(path, "status"), "missing")
		}
		if e.Status, err = p.str(v.val, join(path, "status")); err != nil {
			return nil, err
		}
		if !slices.Contains(statuses, e.Status) {
			return nil, p.errf(v.val, join(path, "status"), "unknown status %q (want one of %s)", e.Status, strings.Join(statuses, ", "))
		}
		if v, ok := f["methods"]; ok {
			if e.Methods, err = p.strs(v.val, join(path, "methods")); err != nil {
				return nil, err
			}
			for j, m := range e.Methods {
				if !slices.Contains(model.Methods, m) {
					return nil, p.errf(v.val.Content[j], fmt.Sprintf("%s.methods[%d]", path, j), "unknown method %q", m)
				}
			}
		}
		if v, ok := f["resolver"]; ok {
			if e.Resolver, err = p.str(v.val, join(path, "resolver")); err != nil {
				return nil, err
			}
			u, err := url.Parse(e.Resolver)
			if err != nil || (u.Scheme != "udp" && u.Scheme != "tcp" && u.Scheme != "https") || u.Host == "" {
				return nil, p.errf(v.val, join(path, "resolver"), "want udp://IP:PORT, tcp://IP:PORT or https://HOST/PATH, got %q", e.Resolver)
			}
		}
		out = append(out, e)
	}
	return out, nil
}
