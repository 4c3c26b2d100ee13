package verify

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/lab/scenario"
)

func TestJudgeDNS(t *testing.T) {
	t.Parallel()
	e := &scenario.ExpectDNS{Censored: []string{"a.example", "b.example"}, Rules: 2}
	rec := func(d string, inj bool, rule string) string {
		r := `null`
		if rule != "" {
			r = `"` + rule + `"`
		}
		return `{"domain":"` + d + `","qtype":"A","method":"via","server":"198.51.100.2:53","injected":` + map[bool]string{true: "true", false: "false"}[inj] + `,"responses":[],"rule":` + r + `,"rule_base":"` + d + `"}` + "\n"
	}
	tests := []struct {
		name    string
		records string
		runErr  error
		pass    bool
		want    string
	}{
		{"exact", rec("a.example", true, "exact") + rec("b.example", true, "exact") + rec("c.example", false, ""), nil, true, "0 missed, 0 false positives"},
		{"missed", rec("a.example", true, "exact") + rec("b.example", false, ""), nil, false, "missed: b.example"},
		{"false positive", rec("a.example", true, "exact") + rec("b.example", true, "exact") + rec("c.example", true, "exact"), nil, false, "false positives: c.example"},
		{"rules", rec("a.example", true, "exact") + rec("b.example", true, ""), nil, false, "1 rules"},
		{"error", "", errors.New("scan failed"), false, "scan failed"},
		{"garbage", "{", nil, false, "record 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := JudgeDNS(e, strings.NewReader(tt.records), "", tt.runErr)
			var b strings.Builder
			WriteResult(&b, r, false)
			if r.Pass != tt.pass || !strings.Contains(b.String(), tt.want) {
				t.Errorf("pass %v, want %v; %s (want %q)", r.Pass, tt.pass, b.String(), tt.want)
			}
		})
	}
}

// TestJudgeDNSResolvers judges each resolver on its own: one that misses a
// name, poisons an extra one or gave no record fails the check even when
// the other resolvers found everything.
func TestJudgeDNSResolvers(t *testing.T) {
	t.Parallel()
	e := &scenario.ExpectDNS{
		Resolvers: []netip.Addr{netip.MustParseAddr("198.51.100.4"), netip.MustParseAddr("198.51.100.5")},
		Censored:  []string{"a.example"},
	}
	rec := func(server, d string, poisoned bool) string {
		return `{"domain":"` + d + `","qtype":"A","method":"resolver","server":"` + server + `","poisoned":` + map[bool]string{true: "true", false: "false"}[poisoned] + `,"responses":[],"rule":null}` + "\n"
	}
	const r4, r5 = "198.51.100.4:53", "198.51.100.5:53"
	tests := []struct {
		name, records string
		pass          bool
		want          string
	}{
		{"both", rec(r4, "a.example", true) + rec(r4, "b.example", false) + rec(r5, "a.example", true) + rec(r5, "b.example", false), true, "expected 2 censored answers  got 2 censored answers"},
		{"one misses", rec(r4, "a.example", true) + rec(r4, "b.example", false) + rec(r5, "a.example", false) + rec(r5, "b.example", false), false, "missed: 198.51.100.5:53 a.example"},
		{"one extra", rec(r4, "a.example", true) + rec(r4, "b.example", true) + rec(r5, "a.example", true) + rec(r5, "b.example", false), false, "false positives: 198.51.100.4:53 b.example"},
		{"one silent", rec(r4, "a.example", true) + rec(r4, "b.example", false), false, "198.51.100.5:53: no records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := JudgeDNS(e, strings.NewReader(tt.records), "", nil)
			var b strings.Builder
			WriteResult(&b, r, false)
			if r.Pass != tt.pass || !strings.Contains(b.String(), tt.want) {
				t.Errorf("pass %v, want %v; %s (want %q)", r.Pass, tt.pass, b.String(), tt.want)
			}
		})
	}
}
