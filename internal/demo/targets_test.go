package demo

import (
	"slices"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/target"
	"github.com/firewatch/firewatch/scenarios"
)

func TestTargets(t *testing.T) {
	const yml = `name: t
hosts:
  - names: [www.skype.com, skype.com]
    ip: 203.0.113.10
    services: [http, https]
    pages:
      /: {title: "Skype"}
      /SkypeSetup.exe: {size: 2000, seed: official}
      /a.zip: {size: 10, seed: x}
  - names: [mail.example.com]
    ip: 203.0.113.20
    services: [https, pop3s, imaps, smtp, dns]
  - names: [down.example]
    ip: 203.0.113.110
    services: [dns]
expect:
  - {target: "http://down.example/", status: down}
  - {target: "HTTPS://WWW.Skype.com", status: ok}
  - {target: "imaps://mail.example.com", status: ok}
`
	sc, err := scenario.Parse("t.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Targets(sc)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		// expect, in order, normalized
		"http://down.example/", "https://www.skype.com/", "imaps://mail.example.com",
		// hosts: web with their files, then mail
		"http://www.skype.com/", "http://www.skype.com/SkypeSetup.exe", "http://www.skype.com/a.zip",
		"https://www.skype.com/SkypeSetup.exe", "https://www.skype.com/a.zip",
		"https://mail.example.com/", "smtp://mail.example.com", "pop3s://mail.example.com",
	}
	// The target package decides how a mail URL is normalized (with or
	// without "/"): compare without a trailing slash on mail URLs.
	norm := func(ss []string) string {
		var out []string
		for _, s := range ss {
			if !strings.HasPrefix(s, "http") {
				s = strings.TrimSuffix(s, "/")
			}
			out = append(out, s)
		}
		return strings.Join(out, "\n")
	}
	if norm(got) != norm(want) {
		t.Errorf("got\n%s\nwant\n%s", norm(got), norm(want))
	}
}

func TestTargetsBadExpect(t *testing.T) {
	sc := &scenario.Scenario{Expect: []scenario.Expect{{Target: "gopher://x.example/", Line: 7}}}
	_, err := Targets(sc)
	if err == nil || !strings.Contains(err.Error(), "line 7") || !strings.Contains(err.Error(), "gopher://x.example/") {
		t.Errorf("got %v, want an error naming line 7 and the target", err)
	}
}

// TestTargetsSeed checks the embedded seed: every expect target is
// measured, nothing twice, and a round stays small.
func TestTargetsSeed(t *testing.T) {
	data, err := scenarios.FS.ReadFile(scenarios.Seed)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.Parse(scenarios.Seed, data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Targets(sc)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, g := range got {
		if seen[g] {
			t.Errorf("%s listed twice", g)
		}
		seen[g] = true
	}
	var want []string // the expectations first, in their order
	for _, e := range sc.Expect {
		ts, err := target.Parse(e.Target)
		if err != nil {
			t.Fatalf("expect line %d: %v", e.Line, err)
		}
		for _, tg := range ts {
			if !slices.Contains(want, tg.String()) {
				want = append(want, tg.String())
			}
		}
	}
	if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Errorf("the expectations do not come first:\ngot  %q\nwant %q", got, want)
	}
	t.Logf("%d targets: %s", len(got), strings.Join(got, " "))
	if len(got) > 60 {
		t.Errorf("%d targets: a round would take too long", len(got))
	}
}
