package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firewatch/firewatch/internal/lab/pki"
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

// Parse reads and validates a scenario; file names the source in errors,
// and the files the scenario names are read beside it.
func Parse(file string, data []byte) (*Scenario, error) {
	return parse(&parser{file: file}, data)
}

// ParseFS reads and validates the scenario name of fsys; the files it names
// are read from fsys too.
func ParseFS(fsys fs.FS, name string) (*Scenario, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	return parse(&parser{file: name, fsys: fsys}, data)
}

func parse(p *parser, data []byte) (*Scenario, error) {
	file := p.file
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

type parser struct {
	file string
	fsys fs.FS // where files named by the scenario are read; nil: the OS, beside file
	// redirects are the pages' redirect URLs, checked once every host and
	// ghost is known (a chain may name a host defined further down).
	redirects []redirectRef
}

// redirectRef is one page's redirect URL and where it was written.
type redirectRef struct {
	n    *yaml.Node
	path string
	url  string
}

// readFile reads a file the scenario names (e.g. a names_file), relative
// to the scenario's directory, at most max bytes.
func (p *parser) readFile(rel string, max int64) ([]byte, error) {
	if filepath.IsAbs(rel) || strings.HasPrefix(rel, "/") {
		return nil, fmt.Errorf("%q: want a path relative to the scenario", rel)
	}
	var f fs.File
	var err error
	if p.fsys != nil {
		f, err = p.fsys.Open(path.Join(path.Dir(p.file), filepath.ToSlash(rel)))
	} else {
		f, err = os.Open(filepath.Join(filepath.Dir(p.file), rel))
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", rel, max)
	}
	return b, nil
}

func (p *parser) scenario(root *yaml.Node) (*Scenario, error) {
	f, err := p.mapping(root, "", append([]string{"name", "description", "network", "seed", "resolver_delay", "hosts", "ghosts", "censor", "expect", "expect_dns", controlKey}, pathKeys...)...)
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
	if v, ok := f["resolver_delay"]; ok {
		d, err := p.str(v.val, "resolver_delay")
		if err != nil {
			return nil, err
		}
		if s.ResolverDelay, err = time.ParseDuration(d); err != nil || s.ResolverDelay <= 0 || s.ResolverDelay > MaxResolverDelay {
			return nil, p.errf(v.val, "resolver_delay", "want a duration from 1ms to %s (e.g. 2s), got %q", MaxResolverDelay, d)
		}
	}
	if h, ok := f["hosts"]; ok {
		if s.Hosts, err = p.hosts(h.val); err != nil {
			return nil, err
		}
	}
	if c, ok := f[controlKey]; ok {
		if err := p.control(c.val, controlKey, ControlDown); err != nil {
			return nil, err
		}
		s.ControlDown = true
		for i, h := range s.Hosts {
			if h.ControlUnreachable {
				return nil, &Error{File: p.file, Line: h.Line, Key: fmt.Sprintf("hosts[%d].%s", i, controlKey),
					Msg: fmt.Sprintf("%s changes nothing when the scenario's control is %s (line %d): give it a scenario of its own", ControlUnreachable, ControlDown, c.key.Line)}
			}
		}
	}
	if g, ok := f["ghosts"]; ok {
		if s.Ghosts, err = p.ghosts(g.val, s); err != nil {
			return nil, err
		}
	}
	if err := p.checkRedirects(s); err != nil {
		return nil, err
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
	if e, ok := f["expect_dns"]; ok {
		if s.ExpectDNS, err = p.expectDNS(e.val); err != nil {
			return nil, err
		}
	}
	if err := p.pathFields(f, s); err != nil {
		return nil, err
	}
	return s, nil
}

// ghosts parses the ghosts: list, names that must not exist: a ghost that
// is a host's name or a parent of one is refused.
func (p *parser) ghosts(n *yaml.Node, s *Scenario) ([]string, error) {
	items, err := p.list(n, "ghosts")
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, p.errf(n, "ghosts", "empty list")
	}
	var out []string
	for i, it := range items {
		at := fmt.Sprintf("ghosts[%d]", i)
		raw, err := p.str(it, at)
		if err != nil {
			return nil, err
		}
		name := normName(raw)
		switch {
		case !validName(name):
			return nil, p.errf(it, at, "invalid name %q", raw)
		case slices.Contains(out, name):
			return nil, p.errf(it, at, "duplicate name %q", raw)
		case s.coversHost(name):
			return nil, p.errf(it, at, "%q is served by a host (or a host is below it): a ghost must not exist", name)
		}
		out = append(out, name)
	}
	return out, nil
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
		f, err := p.mapping(it, path, "names", "ip", "services", "pages", "inside", "certificate", controlKey)
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
		if h.OpenResolver() {
			if err := p.openResolver(&h, f, path); err != nil {
				return nil, err
			}
		}
		if pf, ok := f["pages"]; ok {
			if h.Pages, err = p.pages(pf.val, join(path, "pages")); err != nil {
				return nil, err
			}
		}
		if cf, ok := f["certificate"]; ok {
			if h.Certificate, err = p.str(cf.val, join(path, "certificate")); err != nil {
				return nil, err
			}
			if !slices.Contains(pki.Faults, h.Certificate) {
				return nil, p.errf(cf.val, join(path, "certificate"), "want %s, got %q", orList(pki.Faults), h.Certificate)
			}
		}
		if cf, ok := f[controlKey]; ok {
			if err := p.control(cf.val, join(path, controlKey), ControlUnreachable); err != nil {
				return nil, err
			}
			h.ControlUnreachable = true
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

// openResolver checks a dns-open host: only that service, no pages or
// inside behavior, and an address of the inside network's free ones.
func (p *parser) openResolver(h *Host, f map[string]field, path string) error {
	sf := f["services"]
	if len(h.Services) != 1 {
		return p.errf(sf.val, join(path, "services"), "%s runs alone (an open resolver inside the censored network serves nothing else)", DNSOpen)
	}
	for _, k := range []string{"pages", "inside", "certificate"} {
		if kf, ok := f[k]; ok {
			return p.errf(kf.key, join(path, k), "a %s host serves no %s", DNSOpen, k)
		}
	}
	if kf, ok := f[controlKey]; ok {
		return p.errf(kf.key, join(path, controlKey), "a %s host is inside the censored network, not on the outside's path", DNSOpen)
	}
	if !slices.Contains(OpenResolverAddrs, h.IP) {
		want := make([]string, len(OpenResolverAddrs))
		for i, a := range OpenResolverAddrs {
			want[i] = a.String()
		}
		return p.errf(f["ip"].val, join(path, "ip"), "a %s host lives inside the censored network: want one of %s, got %s", DNSOpen, strings.Join(want, ", "), h.IP)
	}
	return nil
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
	f, err := p.mapping(n, path, "title", "body", "size", "seed", "status", "redirect")
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
	if v, ok := f["redirect"]; ok {
		if pg.Redirect, err = p.httpURL(v.val, join(path, "redirect")); err != nil {
			return pg, err
		}
		p.redirects = append(p.redirects, redirectRef{v.val, join(path, "redirect"), pg.Redirect})
		if pg.Size > 0 || pg.Title != "" || pg.Body != "" {
			return pg, p.errf(v.key, join(path, "redirect"), "a redirect serves no title, body or file")
		}
		if pg.Status != 0 && !slices.Contains(RedirectStatuses, pg.Status) {
			return pg, p.errf(f["status"].val, join(path, "status"), "a redirect's status is one of %s, got %d", intList(RedirectStatuses), pg.Status)
		}
	}
	return pg, nil
}

// checkRedirects refuses a page redirect to a host the scenario does not
// have: the lab's internet knows only its hosts (and its ghosts, which do
// not exist anywhere), so a typo would end the chain in an NXDOMAIN.
func (p *parser) checkRedirects(s *Scenario) error {
	for _, r := range p.redirects {
		u, _ := url.Parse(r.url) // httpURL parsed it
		host := normName(u.Hostname())
		if a, err := netip.ParseAddr(host); err == nil {
			if _, ok := s.HostByIP(a); !ok {
				return p.errf(r.n, r.path, "redirect to %s: no host has address %s", r.url, a)
			}
			continue
		}
		if _, ok := s.HostByName(host); !ok && !MatchesAny(s.Ghosts, host) {
			return p.errf(r.n, r.path, "redirect to %s: no host named %q, and not a ghost", r.url, host)
		}
	}
	return nil
}

// intList writes ns as "1, 2 or 3".
func intList(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return orList(s)
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

func (p *parser) rule(kf field, path string, s *Scenario) (Rule, error) {
	r := Rule{Kind: kf.name}
	f, err := p.mapping(kf.val, path, Keys(kf.name)...)
	if err != nil {
		return r, err
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
	err = kinds[kf.name].parse(&ruleCtx{p: p, kf: kf, f: f, path: path, s: s}, &r)
	return r, err
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
