package scenario

import (
	"strings"
	"testing"
)

func TestPathFields(t *testing.T) {
	base := "name: t\nhosts:\n  - {names: [a.example], ip: 203.0.113.9, services: [http]}\n"
	tests := []struct {
		name, yaml, wantErr string
		check               func(*testing.T, *Scenario)
	}{
		{"defaults", "", "", func(t *testing.T, s *Scenario) {
			if s.CensorHop != DefaultCensorHop || s.SilentHops != nil || s.ExpectTrace != nil {
				t.Errorf("got hop %d, silent %v, trace %v", s.CensorHop, s.SilentHops, s.ExpectTrace)
			}
		}},
		{"all fields", "censor_hop: 1\nsilent_hops: [2, 3]\nexpect_trace:\n  - {target: \"http://a.example/\", hop: 1, placement: in-path}\nexpect_keywords:\n  - {target: \"http://a.example/falun\", keywords: [falun, tibet]}\n", "", func(t *testing.T, s *Scenario) {
			if s.CensorHop != 1 || len(s.SilentHops) != 2 || s.ExpectTrace[0].Hop != 1 || s.ExpectTrace[0].Placement != "in-path" || s.ExpectKeywords[0].Keywords[1] != "tibet" {
				t.Errorf("got %+v", s)
			}
		}},
		{"hop out of range", "censor_hop: 4\n", `censor_hop: 4 out of range 1..3`, nil},
		{"silent twice", "silent_hops: [2, 2]\n", `hop 2 listed twice`, nil},
		{"trace without hop", "expect_trace:\n  - {target: \"http://a.example/\"}\n", `expect_trace[0].hop: missing`, nil},
		{"bad placement", "expect_trace:\n  - {target: \"http://a.example/\", hop: 2, placement: near}\n", `want on-path or in-path`, nil},
		{"unknown key", "expect_trace:\n  - {target: \"http://a.example/\", hop: 2, ttl: 3}\n", `unknown key`, nil},
		{"no keywords", "expect_keywords:\n  - {target: \"http://a.example/\", keywords: []}\n", `keywords: empty`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(base+tc.yaml))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}
