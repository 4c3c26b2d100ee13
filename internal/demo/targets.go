package demo

import (
	"fmt"
	"sort"

	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/target"
)

// webSchemes and mailSchemes are the services a scenario host can run that
// the probe knows how to measure, in the order targets are listed.
var (
	webSchemes  = []string{"http", "https"}
	mailSchemes = []string{"imap", "imaps", "smtp", "submission", "smtps", "pop3", "pop3s"}
)

// Targets returns what the demo measures in a scenario, normalized and
// without duplicates: first the scenario's expect targets (in their order),
// then, for every host, its primary name over each web and mail service it
// runs, and every file page it serves (e.g. an installer) over its web
// services. A target that does not parse is an error naming it.
func Targets(sc *scenario.Scenario) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(raw, where string) error {
		ts, err := target.Parse(raw)
		if err != nil {
			return fmt.Errorf("%s: target %q: %w", where, raw, err)
		}
		for _, t := range ts {
			if s := t.String(); !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
		return nil
	}
	for _, e := range sc.Expect {
		if err := add(e.Target, fmt.Sprintf("expect (line %d)", e.Line)); err != nil {
			return nil, err
		}
	}
	for _, h := range sc.Hosts {
		if len(h.Names) == 0 {
			continue
		}
		name := h.Names[0]
		where := fmt.Sprintf("host %s (line %d)", name, h.Line)
		runs := map[string]bool{}
		for _, s := range h.Services {
			runs[s] = true
		}
		var files []string
		for p, pg := range h.Pages {
			if pg.IsFile() {
				files = append(files, p)
			}
		}
		sort.Strings(files)
		for _, s := range webSchemes {
			if !runs[s] {
				continue
			}
			if err := add(s+"://"+name+"/", where); err != nil {
				return nil, err
			}
			for _, f := range files {
				if err := add(s+"://"+name+f, where); err != nil {
					return nil, err
				}
			}
		}
		for _, s := range mailSchemes {
			if runs[s] {
				if err := add(s+"://"+name, where); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}
