package probe

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/probe/probetest"
	"github.com/firewatch/firewatch/internal/target"
)

// stepEnd is when a step ended.
func stepEnd(s model.Step) time.Time {
	return s.StartedAt.Add(time.Duration(s.DurationMS * float64(time.Millisecond)))
}

// arrival is when a response of a DNS step arrived.
func arrival(s model.Step, r model.DNSResponse) time.Time {
	return s.StartedAt.Add(time.Duration(r.ArrivalMS * float64(time.Millisecond)))
}

// TestLateAnswerRecorded: the genuine answer comes first and the page is
// fetched at once; an injected answer LateGap later, long after the HTTP
// response, still lands in the record (and its address is connected to)
// before Measure returns. With Serial, the fetch waits for the window.
func TestLateAnswerRecorded(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<title>ok</title>") }))
	t.Cleanup(srv.Close)
	for _, serial := range []bool{false, true} {
		name := "parallel"
		if serial {
			name = "serial"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(c *Config) { c.InjectionWindow = time.Second; c.Serial = serial })
			var resolved []Resolved
			ts := parseTarget(t, "http://"+probetest.NameLate+".site.test:"+port(srv.Listener.Addr().String())+"/")
			m := e.p.Measure(context.Background(), ts, Extra{OnResolved: func(r Resolved) { resolved = append(resolved, r) }})
			a := steps(m, model.OpDNSRoundTrip)[0]
			if len(a.DNS.Responses) != 2 || a.DNS.Responses[0].Answers[0].Value != "127.0.0.1" || a.DNS.Responses[1].Answers[0].Value != "127.0.0.2" {
				t.Fatalf("A responses %+v, want 127.0.0.1 then 127.0.0.2:\n%s", a.DNS.Responses, dump(m))
			}
			if m.Steps[0].Operation != model.OpDNSRoundTrip || m.Steps[1].Operation != model.OpDNSRoundTrip {
				t.Errorf("the record does not start with its DNS steps:\n%s", dump(m))
			}
			hs := steps(m, model.OpHTTPRoundTrip)
			if len(hs) != 1 || hs[0].Failure != nil || hs[0].HTTP.Status != 200 {
				t.Fatalf("http steps %+v, want one 200", hs)
			}
			late := arrival(a, a.DNS.Responses[1])
			if serial {
				if !hs[0].StartedAt.After(late) {
					t.Errorf("serial: the fetch started at %s, before the late answer at %s", hs[0].StartedAt, late)
				}
			} else if !stepEnd(hs[0]).Before(late) {
				t.Errorf("the HTTP response ended at %s, not before the late answer at %s: the fetch waited for the window", stepEnd(hs[0]), late)
			}
			var connected []string
			for _, c := range steps(m, model.OpConnect) {
				connected = append(connected, c.Address)
			}
			p := port(srv.Listener.Addr().String())
			if len(connected) != 2 || connected[0] != "127.0.0.1:"+p || connected[1] != "127.0.0.2:"+p {
				t.Errorf("connects %v, want the first answer's address, then the late one's", connected)
			}
			want := []string{"127.0.0.1"}
			if serial {
				want = []string{"127.0.0.1", "127.0.0.2"}
			}
			if len(resolved) != 1 || len(resolved[0].Addrs) != len(want) || resolved[0].Addrs[0] != want[0] {
				t.Errorf("OnResolved saw %+v, want once with %v", resolved, want)
			}
		})
	}
}

// TestPerAddressLimit: at most MaxPerAddress connections to one address are
// open at once across measurements, and waiting for a slot is not a
// timeout of the network.
func TestPerAddressLimit(t *testing.T) {
	t.Parallel()
	var open, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := open.Add(1)
		defer open.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(150 * time.Millisecond)
		io.WriteString(w, "<title>ok</title>")
	}))
	t.Cleanup(srv.Close)
	// The step timeout is shorter than the wait for a slot: 12 fetches of
	// 150 ms, 3 at a time, take 600 ms.
	e := newEnv(t, func(c *Config) {
		c.MaxPerAddress = 3
		c.Timeout = 400 * time.Millisecond
		c.InjectionWindow = time.Millisecond
	})
	ts := parseTarget(t, "http://www.site.test:"+port(srv.Listener.Addr().String())+"/")
	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := e.p.Measure(context.Background(), ts, Extra{})
			if last := m.Steps[len(m.Steps)-1]; last.Failure != nil {
				t.Errorf("a measurement failed: %s", dump(m))
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > 3 || p < 2 {
		t.Errorf("peak of %d requests at once to one address, want 3 (at most)", p)
	}
	if n := len(e.p.slots.held); n != 0 {
		t.Errorf("%d address entries left after the measurements, want 0", n)
	}
}

// TestAddrSlotsCancel: a waiter whose context ends leaves the queue; the
// slot goes to the next one.
func TestAddrSlotsCancel(t *testing.T) {
	s := newAddrSlots(1)
	a := netip.MustParseAddr("203.0.113.1")
	rel, err := s.acquire(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.acquire(ctx, a); err == nil {
		t.Fatal("acquired a taken slot")
	}
	got := make(chan func())
	go func() {
		r, _ := s.acquire(context.Background(), a)
		got <- r
	}()
	time.Sleep(10 * time.Millisecond)
	rel()
	rel() // twice is once
	r2 := <-got
	r2()
	if len(s.held) != 0 {
		t.Errorf("entries left: %v", s.held)
	}
}

func parseTarget(t *testing.T, raw string) target.Target {
	t.Helper()
	ts, err := target.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return ts[0]
}
