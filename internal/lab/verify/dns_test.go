package verify

import (
	"errors"
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
