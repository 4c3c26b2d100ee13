package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
func JudgeDNS(e *scenario.ExpectDNS, records io.Reader, summary string, runErr error) Result {
	want := make(map[string]bool, len(e.Censored))
	for _, n := range e.Censored {
		want[n] = true
	}
	r := Result{Target: "dns scan from outside", Expected: Outcome{Status: fmt.Sprintf("%d censored", len(want))}}
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
		seen[rec.Domain] = true
		if rec.Censored() {
			got[rec.Domain] = true
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
	r.Got = Outcome{Status: fmt.Sprintf("%d censored", len(got))}
	if e.Rules > 0 {
		r.Got.Methods = []string{fmt.Sprintf("%d rules", len(rules))}
	}
	r.Evidence = append(r.Evidence, fmt.Sprintf("%d domains scanned, %d missed, %d false positives", len(seen), len(missed), len(falsePos)))
	if len(missed) > 0 {
		r.Evidence = append(r.Evidence, "missed: "+clipList(missed))
	}
	if len(falsePos) > 0 {
		r.Evidence = append(r.Evidence, "false positives: "+clipList(falsePos))
	}
	if summary != "" {
		r.Evidence = append(r.Evidence, summary)
	}
	r.Pass = len(missed) == 0 && len(falsePos) == 0 && len(seen) > 0 && (e.Rules == 0 || len(rules) == e.Rules)
	return r
}

func clipList(names []string) string {
	if len(names) > 10 {
		return strings.Join(names[:10], ", ") + fmt.Sprintf(", … (%d in all)", len(names))
	}
	return strings.Join(names, ", ")
}
