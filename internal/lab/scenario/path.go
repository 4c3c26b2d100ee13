package scenario

import (
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// Router hops of the lab's path (the inside's router is hop 1).
const (
	MinHop = 1
	MaxHop = 3
	// DefaultCensorHop is where the censor sits when a scenario does not say.
	DefaultCensorHop = 2
)

// ExpectTrace is an expect_trace entry: the hop `firewatch trace` must
// find the censor at for target, and optionally its placement.
type ExpectTrace struct {
	Target    string
	Hop       int
	Placement string // "on-path", "in-path" or "" (not checked)
	Line      int
}

// ExpectKeywords is an expect_keywords entry: the keywords `firewatch
// keywords isolate` must find in target's request (as a set).
type ExpectKeywords struct {
	Target   string
	Keywords []string
	Line     int
}

// pathKeys are the top-level keys read by pathFields.
var pathKeys = []string{"censor_hop", "silent_hops", "expect_trace", "expect_keywords"}

// pathFields reads where the censor sits, which routers keep quiet, and the
// trace and keyword expectations.
func (p *parser) pathFields(f map[string]field, s *Scenario) error {
	s.CensorHop = DefaultCensorHop
	if v, ok := f["censor_hop"]; ok {
		h, err := p.integer(v.val, "censor_hop", MinHop, MaxHop)
		if err != nil {
			return err
		}
		s.CensorHop = int(h)
	}
	if v, ok := f["silent_hops"]; ok {
		items, err := p.list(v.val, "silent_hops")
		if err != nil {
			return err
		}
		for i, it := range items {
			h, err := p.integer(it, fmt.Sprintf("silent_hops[%d]", i), MinHop, MaxHop)
			if err != nil {
				return err
			}
			if slices.Contains(s.SilentHops, int(h)) {
				return p.errf(it, fmt.Sprintf("silent_hops[%d]", i), "hop %d listed twice", h)
			}
			s.SilentHops = append(s.SilentHops, int(h))
		}
	}
	if v, ok := f["expect_trace"]; ok {
		items, err := p.list(v.val, "expect_trace")
		if err != nil {
			return err
		}
		for i, it := range items {
			e, err := p.expectTrace(it, fmt.Sprintf("expect_trace[%d]", i))
			if err != nil {
				return err
			}
			s.ExpectTrace = append(s.ExpectTrace, e)
		}
	}
	if v, ok := f["expect_keywords"]; ok {
		items, err := p.list(v.val, "expect_keywords")
		if err != nil {
			return err
		}
		for i, it := range items {
			e, err := p.expectKeywords(it, fmt.Sprintf("expect_keywords[%d]", i))
			if err != nil {
				return err
			}
			s.ExpectKeywords = append(s.ExpectKeywords, e)
		}
	}
	return nil
}

func (p *parser) target(it *yaml.Node, f map[string]field, path string) (string, error) {
	v, ok := f["target"]
	if !ok {
		return "", p.errf(it, join(path, "target"), "missing")
	}
	t, err := p.str(v.val, join(path, "target"))
	if err == nil && t == "" {
		err = p.errf(v.val, join(path, "target"), "empty")
	}
	return t, err
}

func (p *parser) expectTrace(it *yaml.Node, path string) (ExpectTrace, error) {
	f, err := p.mapping(it, path, "target", "hop", "placement")
	if err != nil {
		return ExpectTrace{}, err
	}
	e := ExpectTrace{Line: deref(it).Line}
	if e.Target, err = p.target(it, f, path); err != nil {
		return e, err
	}
	v, ok := f["hop"]
	if !ok {
		return e, p.errf(it, join(path, "hop"), "missing")
	}
	h, err := p.integer(v.val, join(path, "hop"), MinHop, MaxHop)
	if err != nil {
		return e, err
	}
	e.Hop = int(h)
	if v, ok := f["placement"]; ok {
		if e.Placement, err = p.str(v.val, join(path, "placement")); err != nil {
			return e, err
		}
		if e.Placement != "on-path" && e.Placement != "in-path" {
			return e, p.errf(v.val, join(path, "placement"), "want on-path or in-path, got %q", e.Placement)
		}
	}
	return e, nil
}

func (p *parser) expectKeywords(it *yaml.Node, path string) (ExpectKeywords, error) {
	f, err := p.mapping(it, path, "target", "keywords")
	if err != nil {
		return ExpectKeywords{}, err
	}
	e := ExpectKeywords{Line: deref(it).Line}
	if e.Target, err = p.target(it, f, path); err != nil {
		return e, err
	}
	v, ok := f["keywords"]
	if !ok {
		return e, p.errf(it, join(path, "keywords"), "missing")
	}
	if e.Keywords, err = p.strs(v.val, join(path, "keywords")); err != nil {
		return e, err
	}
	if len(e.Keywords) == 0 {
		return e, p.errf(v.val, join(path, "keywords"), "empty: list the keywords isolate must find")
	}
	for i, k := range e.Keywords {
		if k == "" {
			return e, p.errf(v.val.Content[i], fmt.Sprintf("%s.keywords[%d]", path, i), "empty keyword")
		}
	}
	return e, nil
}
