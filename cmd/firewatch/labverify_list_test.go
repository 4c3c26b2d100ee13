package main

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/lab/verify"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/target"
)

// TestVerifyList: records arriving in any order, from one run per resolver,
// are matched to their entries by input line (a bare domain needs both of
// its records, a repeated line one record each), and the results come out
// in the order of the expect list; entries the run never answered fail
// with the run's error.
func TestVerifyList(t *testing.T) {
	expects := []scenario.Expect{
		{Target: "https://a.example/", Status: "ok"},
		{Target: "b.example", Status: "blocked", Methods: []string{"tls.mitm"}},
		{Target: "https://a.example/", Resolver: "udp://192.0.2.53:53", Status: "blocked", Methods: []string{"dns.injected"}},
		{Target: "http://c.example/", Status: "ok"},
		{Target: "http://c.example/", Status: "ok"},
		{Target: "http://lost.example/", Resolver: "udp://192.0.2.53:53", Status: "ok"},
	}
	var mu sync.Mutex
	runs := map[string][]string{}
	run := func(ctx context.Context, resolver string, es []scenario.Expect, records func(*model.Measurement)) error {
		mu.Lock()
		for _, e := range es {
			runs[resolver] = append(runs[resolver], e.Target)
		}
		mu.Unlock()
		// Answer in reverse order, as a list run finishing the slow ones last would.
		for i := len(es) - 1; i >= 0; i-- {
			e := es[i]
			if strings.Contains(e.Target, "lost") {
				continue
			}
			ts, _ := target.Parse(e.Target)
			for _, tg := range ts {
				m := &model.Measurement{Target: tg.String(), Input: e.Target, Status: e.Status, Methods: e.Methods}
				if tg.Scheme == "http" && strings.HasPrefix(e.Target, "b.") {
					m.Status, m.Methods = "ok", []string{} // one of the two records differs
				}
				records(m)
			}
		}
		if resolver != "" {
			return errors.New("run failed")
		}
		return nil
	}
	var got []verify.Result
	var n atomic.Int32
	verifyList(context.Background(), expects, run, func() { n.Add(1) }, func(r verify.Result) { got = append(got, r) })
	if int(n.Load()) != len(expects) {
		t.Errorf("%d entries judged, want %d", n.Load(), len(expects))
	}
	if len(got) != len(expects) {
		t.Fatalf("%d results, want %d", len(got), len(expects))
	}
	wantPass := []bool{true, false, true, true, true, false}
	for i, r := range got {
		if r.Target != expects[i].Target {
			t.Errorf("result %d is %s, want %s (expect-list order)", i, r.Target, expects[i].Target)
		}
		if r.Pass != wantPass[i] {
			t.Errorf("%s: pass %v, want %v (%+v)", r.Target, r.Pass, wantPass[i], r)
		}
	}
	if e := strings.Join(got[5].Evidence, " "); !strings.Contains(e, "run failed") {
		t.Errorf("unanswered entry: evidence %q, want the run's error", e)
	}
	if len(runs) != 2 || len(runs[""]) != 4 || len(runs["udp://192.0.2.53:53"]) != 2 {
		t.Errorf("runs %v: want one per resolver", runs)
	}
}
