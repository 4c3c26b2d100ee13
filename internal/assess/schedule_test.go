package assess

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/probe"
	"github.com/firewatch/firewatch/internal/probe/probetest"
	"github.com/firewatch/firewatch/internal/target"
)

// TestLateInjectionJudged: the injected answer arrives after the HTTP
// response (the genuine one came first and the page was fetched with it);
// it is still in the record and still decides dns.injected, under both
// schedules.
func TestLateInjectionJudged(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	w := newWorld(t)
	for _, serial := range []bool{false, true} {
		p, err := probe.New(probe.Config{Network: probetest.Network(t, w.ca.Pool(), w.dns.Addr), Timeout: 3 * time.Second,
			InjectionWindow: time.Second, Serial: serial})
		if err != nil {
			t.Fatal(err)
		}
		a := &Assessor{Probe: p, Control: w.ctl, Retests: -1, Serial: serial}
		ts, err := target.Parse("http://" + probetest.NameLate + ".site.test:" + port(w.plain) + "/")
		if err != nil {
			t.Fatal(err)
		}
		m := a.Assess(context.Background(), ts[0])
		if m.Status != model.StatusBlocked || !slices.Contains(m.Methods, model.MethodDNSInjected) {
			t.Errorf("serial %v: got %s %v, want blocked with %s; evidence %+v", serial, m.Status, m.Methods, model.MethodDNSInjected, m.Verdict.Evidence)
		}
		var dnsA, hop *model.Step
		for i := range m.Steps {
			s := &m.Steps[i]
			if s.DNS != nil && s.DNS.QueryType == "A" && dnsA == nil {
				dnsA = s
			}
			if s.HTTP != nil && hop == nil {
				hop = s
			}
		}
		if dnsA == nil || hop == nil || len(dnsA.DNS.Responses) != 2 {
			t.Fatalf("serial %v: record without two A responses and an HTTP step: %+v", serial, m.Steps)
		}
		lateAt := dnsA.StartedAt.Add(time.Duration(dnsA.DNS.Responses[1].ArrivalMS * float64(time.Millisecond)))
		hopEnd := hop.StartedAt.Add(time.Duration(hop.DurationMS * float64(time.Millisecond)))
		if !serial && !hopEnd.Before(lateAt) {
			t.Errorf("the HTTP response (ended %s) did not come before the late answer (%s)", hopEnd, lateAt)
		}
	}
}

// TestFlakyCensorParallelRetests: a censor resetting each connection with
// probability 0.5 is caught as with the serial schedule: three tries, each
// its own connection and its own draw, and the verdict is their majority.
func TestFlakyCensorParallelRetests(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	w := newWorld(t)
	for seed := uint64(1); seed <= 8; seed++ {
		var mu sync.Mutex
		rng := rand.New(rand.NewPCG(seed, 0))
		var draws []bool // true: reset
		cs := censor(func(addr string) (string, error) {
			if addr != w.plain {
				return "", nil
			}
			mu.Lock()
			defer mu.Unlock()
			reset := rng.Float64() < 0.5
			draws = append(draws, reset)
			if reset {
				return "", syscall.ECONNREFUSED
			}
			return "", nil
		})
		a := w.assessor(t, false, cs)
		a.Retests = 2
		ts, err := target.Parse("http://www.site.test:" + port(w.plain) + "/")
		if err != nil {
			t.Fatal(err)
		}
		m := a.Assess(context.Background(), ts[0])
		mu.Lock()
		d := slices.Clone(draws)
		mu.Unlock()
		resets := 0
		for _, r := range d {
			if r {
				resets++
			}
		}
		got := strings.TrimSpace(m.Status + " " + strings.Join(m.Methods, " "))
		switch {
		case !d[0]:
			if len(d) != 1 || got != "ok" {
				t.Errorf("seed %d: first try passed: got %q after %d connections, want ok after 1", seed, got, len(d))
			}
		case len(d) != 3 || m.Verdict.Confidence.Tries != 3:
			t.Errorf("seed %d: %d connections, %d tries; want 3 of each (separate connections)", seed, len(d), m.Verdict.Confidence.Tries)
		case resets >= 2 && got != "blocked tcp.reset", resets < 2 && got != "ok":
			t.Errorf("seed %d: draws %v gave %q", seed, d, got)
		}
	}
}
