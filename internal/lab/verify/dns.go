package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"github.com/firewatch/firewatch/internal/dnsscan"
	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/model"
)

// JudgeDNS compares the records of a `firewatch scan dns` run (JSON Lines)
// with a scenario's expect_dns: exactly the expected names censored (none
// missed, no false positive), as many distinct rules as expected. summary
// is the scan's summary line, shown in the evidence.
//
// With resolvers, each resolver is judged on its own: every one of them must
// find exactly the expected names poisoned (a missed or false name reads
// "IP:53 name").
func JudgeDNS(e *scenario.ExpectDNS, records io.Reader, summary string, runErr error) Result {
	// key names one judged answer: the domain, and with resolvers the
	// resolver that gave it.
	key := func(server, domain string) string { return domain }
	servers := []string{""}
	if len(e.Resolvers) > 0 {
		key = func(server, domain string) string { return server + " " + domain }
		servers = servers[:0]
		for _, a := range e.Resolvers {
			servers = append(servers, netip.AddrPortFrom(a, 53).String())
		}
	}
	want := make(map[string]bool, len(e.Censored)*len(servers))
	for _, n := range e.Censored {
		for _, s := range servers {
			want[key(s, n)] = true
		}
	}
	target := "dns scan from outside"
	if len(e.Resolvers) > 0 {
		target += fmt.Sprintf(" (%d resolvers)", len(e.Resolvers))
	}
	status := "%d censored"
	if len(e.Resolvers) > 0 {
		status = "%d censored answers"
	}
	r := Result{Target: target, Expected: Outcome{Status: fmt.Sprintf(status, len(want))}}
	if e.Rules > 0 {
		r.Expected.Methods = []string{fmt.Sprintf("%d rules", e.Rules)}
	}
	if runErr != nil {
		r.Got = Outcome{Status: model.StatusError}
		r.Evidence = []string{runErr.Error()}
		return r
	}
	got := map[string]bool{}
	seen := map[string]bool{}
	rules := map[string]bool{}
	perServer := map[string]int{}
	dec := json.NewDecoder(records)
	for n := 1; ; n++ {
		var rec dnsscan.Record
		err := dec.Decode(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			r.Got = Outcome{Status: model.StatusError}
			r.Evidence = []string{fmt.Sprintf("scan output, record %d: %v", n, err)}
			return r
		}
		seen[key(rec.Server, rec.Domain)] = true
		perServer[rec.Server]++
		if rec.Censored() {
			got[key(rec.Server, rec.Domain)] = true
			if rec.Rule != nil {
				rules[*rec.Rule+" "+rec.RuleBase] = true
			}
		}
	}
	var missed, falsePos []string
	for n := range want {
		if !got[n] {
			missed = append(missed, n)
		}
	}
	for n := range got {
		if !want[n] {
			falsePos = append(falsePos, n)
		}
	}
	slices.Sort(missed)
	slices.Sort(falsePos)
	r.Got = Outcome{Status: fmt.Sprintf(status, len(got))}
	if e.Rules > 0 {
		r.Got.Methods = []string{fmt.Sprintf("%d rules", len(rules))}
	}
	what, silent := "domains", 0
	if len(e.Resolvers) > 0 {
		what = "answers"
		for _, s := range servers {
			if perServer[s] == 0 {
				silent++
				r.Evidence = append(r.Evidence, s+": no records (unusable or unreachable)")
			}
		}
	}
	r.Evidence = append(r.Evidence, fmt.Sprintf("%d %s scanned, %d missed, %d false positives", len(seen), what, len(missed), len(falsePos)))
	if len(missed) > 0 {
		r.Evidence = append(r.Evidence, "missed: "+clipList(missed))
	}
	if len(falsePos) > 0 {
		r.Evidence = append(r.Evidence, "false positives: "+clipList(falsePos))
	}
	if summary != "" {
		r.Evidence = append(r.Evidence, summary)
	}
	r.Pass = len(missed) == 0 && len(falsePos) == 0 && len(seen) > 0 && silent == 0 && (e.Rules == 0 || len(rules) == e.Rules)
	return r
}

func clipList(names []string) string {
	if len(names) > 10 {
		return strings.Join(names[:10], ", ") + fmt.Sprintf(", … (%d in all)", len(names))
	}
	return strings.Join(names, ", ")
}
