package scenario

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/firewatch/firewatch/internal/addrclass"
)

// The parser's readers of YAML nodes: each checks a node's shape and
// returns an *Error naming the file, line and key when it is wrong.

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
