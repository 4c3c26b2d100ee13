package store

import (
	"context"
	"testing"
	"time"
)

func TestDNSHistory(t *testing.T) {
	t.Parallel()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			st := b.open(t)
			ctx := context.Background()
			day1 := time.Now().UTC().Add(-48 * time.Hour)
			day2 := day1.Add(24 * time.Hour)
			ob := func(d string, c bool, at time.Time, rule string, forged ...string) DNSObservation {
				return DNSObservation{Domain: d, Country: "CN", ASN: 4134, Method: "via", Censored: c, Rule: rule, RuleBase: d, Forged: forged, At: at}
			}
			ev, err := st.InsertDNS(ctx, []DNSObservation{
				ob("a.example", true, day1, "exact", "203.0.113.1"),
				ob("b.example", false, day1, ""),
				ob("c.example", true, day1, "suffix", "203.0.113.1", "203.0.113.2"),
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(ev) != 2 || ev[0].Kind != DNSCensored {
				t.Fatalf("first scan events %+v, want a.example and c.example censored", ev)
			}
			// Second scan: a.example lifted, b.example censored, c.example
			// still censored; an old record of a.example arriving late changes nothing.
			ev, err = st.InsertDNS(ctx, []DNSObservation{
				ob("a.example", false, day2, ""),
				ob("b.example", true, day2, "substring", "203.0.113.3"),
				ob("c.example", true, day2, ""),
				ob("a.example", true, day1.Add(-time.Hour), "exact"),
			})
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]string{}
			for _, e := range ev {
				kinds[e.Domain] = e.Kind
			}
			if len(ev) != 2 || kinds["a.example"] != DNSUncensored || kinds["b.example"] != DNSCensored {
				t.Fatalf("second scan events %+v", ev)
			}
			yes := true
			cs, err := st.DNSStates(ctx, DNSFilter{Censored: &yes}, Page{})
			if err != nil || len(cs) != 2 || cs[0].Domain != "b.example" || cs[1].Domain != "c.example" {
				t.Fatalf("censored states %+v, %v", cs, err)
			}
			if c := cs[1]; !c.Since.Equal(day1.Truncate(time.Microsecond)) && c.Since.Sub(day1).Abs() > time.Millisecond || c.Tests != 2 || c.Rule != "suffix" || c.LastChange != nil {
				t.Errorf("c.example %+v: want censored since day 1, 2 tests, its rule kept", c)
			}
			all, _ := st.DNSStates(ctx, DNSFilter{Query: "A.EX"}, Page{})
			if len(all) != 1 || all[0].Censored || all[0].LastChange == nil || all[0].Tests != 3 {
				t.Errorf("a.example %+v", all)
			}
			rules, err := st.DNSRules(ctx, DNSFilter{Country: "CN"}, Page{})
			if err != nil || len(rules) != 2 {
				t.Errorf("rules %+v, %v", rules, err)
			}
			pool, err := st.DNSForged(ctx, DNSFilter{ASN: 4134}, Page{})
			if err != nil || len(pool) != 3 || pool[0].Address != "203.0.113.1" || pool[0].Count != 2 {
				t.Errorf("pool %+v, %v", pool, err)
			}
			tl, err := st.DNSTimeline(ctx, DNSFilter{}, 5)
			if err != nil || len(tl) != 5 || tl[2].Censored != 2 || tl[3].Censored != 2 || tl[4].Censored != 0 {
				t.Errorf("timeline %+v, %v", tl, err)
			}
			evs, err := st.DNSEvents(ctx, DNSFilter{}, Page{Limit: 10})
			if err != nil || len(evs) != 4 || evs[0].At.Before(evs[3].At) {
				t.Errorf("events %+v, %v", evs, err)
			}
		})
	}
}
