package probe

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/probe/probetest"
)

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func TestPickAddrs(t *testing.T) {
	many := func(prefix string, n int) []netip.Addr {
		out := make([]netip.Addr, n)
		for i := range out {
			out[i] = netip.AddrFrom4([4]byte{203, 0, 113, byte(i)})
			if prefix == "b" {
				out[i] = netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
			}
		}
		return out
	}
	cases := []struct {
		name     string
		own      []netip.Addr
		other    []netip.Addr
		max      int
		want     []netip.Addr
		notTried int
	}{
		{"none", nil, nil, 8, nil, 0},
		{"under the cap, order kept", addrs("1.1.1.1", "2.2.2.2"), addrs("3.3.3.3", "1.1.1.1"), 8, addrs("1.1.1.1", "2.2.2.2", "3.3.3.3"), 0},
		{"repeats count once", addrs("1.1.1.1", "1.1.1.1", "2.2.2.2"), nil, 2, addrs("1.1.1.1", "2.2.2.2"), 0},
		{"first answers in order", many("a", 20), nil, 8, many("a", 8), 12},
		{"3500 answers", append(many("a", 250), many("b", 250)...), nil, 8, many("a", 8), 492},
		{"both vantages saw first", addrs("1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"), addrs("4.4.4.4", "3.3.3.3"), 2, addrs("3.3.3.3", "4.4.4.4"), 2},
		{"then own and other alternate", addrs("1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"), addrs("9.9.9.9", "8.8.8.8", "4.4.4.4"), 4,
			addrs("1.1.1.1", "2.2.2.2", "4.4.4.4", "9.9.9.9"), 2},
		{"the other's addresses are checked even when own fill the cap", many("a", 20), addrs("9.9.9.9"), 3,
			append(many("a", 2), netip.MustParseAddr("9.9.9.9")), 18},
		{"cap of one", addrs("1.1.1.1", "2.2.2.2"), nil, 1, addrs("1.1.1.1"), 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, notTried := pickAddrs(c.own, c.other, c.max)
			if !slices.Equal(got, c.want) || notTried != c.notTried {
				t.Errorf("got %v (%d not tried), want %v (%d not tried)", got, notTried, c.want, c.notTried)
			}
		})
	}
}

// TestMaxAddrs: a forged answer with thousands of records, or the union of
// many injected responses, makes the probe dial at most MaxAddrs addresses
// per host and port, and the record says how many it left out.
func TestMaxAddrs(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.InjectionWindow = 500 * time.Millisecond })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://many.test:"+port(r.Host)+"/", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	p := port(srv.Listener.Addr().String())
	union := probetest.FloodResponses * probetest.FloodAnswers
	cases := []struct {
		name, target, host string
		connects, notTried int
	}{
		{"one answer of 3500 records", "https://many.test:" + p + "/", "many.test", DefaultMaxAddrs, probetest.ManyAnswers - DefaultMaxAddrs},
		{"union of injected responses", "imaps://flood.test:" + p + "/", "flood.test", DefaultMaxAddrs, union - DefaultMaxAddrs},
		{"a redirect hop to such a host", "http://www.site.test:" + p + "/", "many.test", DefaultMaxAddrs, probetest.ManyAnswers - DefaultMaxAddrs},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := e.measure(t, c.target)
			var connects []string
			for _, s := range steps(m, model.OpConnect) {
				if s.Hostname == c.host {
					connects = append(connects, s.Address)
				}
			}
			if len(connects) != c.connects || m.AddrsNotTried != c.notTried {
				t.Errorf("%d connects to %s, addresses_not_tried %d; want %d and %d\n%v", len(connects), c.host, m.AddrsNotTried, c.connects, c.notTried, connects)
			}
			b, _ := json.Marshal(m)
			if !strings.Contains(string(b), `"addresses_not_tried":`) {
				t.Errorf("record without addresses_not_tried")
			}
			t.Logf("record of %d bytes", len(b))
		})
	}
	t.Run("configurable", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.MaxAddrs = 2 })
		m := e.measure(t, "https://many.test:"+p+"/")
		if n := len(steps(m, model.OpConnect)); n != 2 || m.AddrsNotTried != probetest.ManyAnswers-2 {
			t.Errorf("%d connects, %d not tried; want 2 and %d", n, m.AddrsNotTried, probetest.ManyAnswers-2)
		}
	})
	t.Run("nothing left out: no field", func(t *testing.T) {
		m := e.measure(t, "https://www.plain.test:"+p+"/")
		if b, _ := json.Marshal(m); m.AddrsNotTried != 0 || strings.Contains(string(b), "addresses_not_tried") {
			t.Errorf("addresses_not_tried %d in a record that dialed every address", m.AddrsNotTried)
		}
	})
}
