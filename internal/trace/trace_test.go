package trace

import (
	"context"
	"net/netip"
	"testing"

	"github.com/firewatch/firewatch/internal/model"
)

// fakePath emulates a path of routers to a server at hop len(routers)+1,
// with a censor at hop censor (1-based) behaving as technique says.
type fakePath struct {
	routers   []netip.Addr
	silent    map[int]bool // routers that send no ICMP
	censor    int
	technique string // "reset", "race", "replace", "proxy", "drop"
	udpDrop   bool   // the server never answers the path probe
	noDNS     bool   // the server runs no DNS: port unreachable
}

func (f *fakePath) server() int { return len(f.routers) + 1 }

func (f *fakePath) router(ttl int) netip.Addr {
	if ttl <= len(f.routers) && !f.silent[ttl] {
		return f.routers[ttl-1]
	}
	return netip.Addr{}
}

func (f *fakePath) Path(_ context.Context, ttl int) Observation {
	if ttl >= f.server() {
		return Observation{Reached: !f.udpDrop}
	}
	return Observation{Router: f.router(ttl)}
}

func (f *fakePath) Replay(_ context.Context, ttl int) Observation {
	var o Observation
	seen := ttl >= f.censor // the packet reaches the censor's hop
	switch f.technique {
	case "drop":
		if ttl > f.censor {
			return o // dropped when forwarded
		}
	case "reset", "proxy": // held by the censor: nothing goes further
		if seen {
			if f.technique == "reset" {
				o.Answers = append(o.Answers, Answer{Reset: true, Digest: "rst"})
			} else {
				o.Answers = append(o.Answers, Answer{Digest: "forged"})
			}
			return o
		}
	case "race", "replace":
		if seen {
			o.Answers = append(o.Answers, Answer{Digest: "forged"})
		}
	}
	if ttl >= f.server() {
		switch {
		case f.noDNS:
			o.Reached, o.NoService = true, true
		case f.technique != "replace": // replace drops the genuine answer
			o.Answers = append(o.Answers, Answer{Digest: "genuine"})
		}
		return o
	}
	o.Router = f.router(ttl)
	return o
}

func TestLocate(t *testing.T) {
	a := netip.MustParseAddr
	routers := []netip.Addr{a("198.51.100.1"), a("198.51.100.10"), a("198.51.100.14")}
	tests := []struct {
		name       string
		path       fakePath
		kind       Kind
		wantHop    int // 0: none
		wantPlace  string
		wantServer int
		wantRouter []string
	}{
		{"reset on hop 2", fakePath{routers: routers, censor: 2, technique: "reset"}, KindAnswer, 2, InPath, 4, []string{"198.51.100.1", "198.51.100.10", "198.51.100.14", ""}},
		{"dns race on hop 2", fakePath{routers: routers, censor: 2, technique: "race"}, KindAnswer, 2, OnPath, 4, []string{"198.51.100.1", "198.51.100.10", "198.51.100.14", ""}},
		{"dns replace on hop 3", fakePath{routers: routers, censor: 3, technique: "replace"}, KindAnswer, 3, InPath, 4, []string{"198.51.100.1", "198.51.100.10", "198.51.100.14", ""}},
		{"proxy on hop 1", fakePath{routers: routers, censor: 1, technique: "proxy"}, KindAnswer, 1, InPath, 4, []string{"198.51.100.1", "198.51.100.10", "198.51.100.14", ""}},
		{"drop on hop 2", fakePath{routers: routers, censor: 2, technique: "drop"}, KindSilence, 2, InPath, 4, []string{"198.51.100.1", "198.51.100.10", "198.51.100.14", ""}},
		{"reset on hop 3 behind a silent hop 2", fakePath{routers: routers, censor: 3, technique: "reset", silent: map[int]bool{2: true}}, KindAnswer, 3, InPath, 4, []string{"198.51.100.1", "", "198.51.100.14", ""}},
		{"race, server silent on UDP", fakePath{routers: routers, censor: 2, technique: "race", udpDrop: true}, KindAnswer, 2, OnPath, 4, []string{"198.51.100.1", "198.51.100.10", "198.51.100.14", ""}},
		{"race to an address without DNS", fakePath{routers: routers, censor: 2, technique: "race", noDNS: true}, KindAnswer, 2, "", 4, []string{"198.51.100.1", "198.51.100.10", "198.51.100.14", ""}},
		{"no interference", fakePath{routers: routers, censor: 99, technique: "reset"}, KindAnswer, 0, "", 4, []string{"198.51.100.1", "198.51.100.10", "198.51.100.14", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.path
			r, err := Locate(context.Background(), &p, Options{Target: "http://x.example/", Method: "m", Kind: tc.kind, MaxTTL: 8})
			if err != nil {
				t.Fatal(err)
			}
			gotHop := 0
			if r.CensorHop != nil {
				gotHop = *r.CensorHop
			}
			if gotHop != tc.wantHop {
				t.Errorf("censor hop %d, want %d (hops %+v)", gotHop, tc.wantHop, r.Hops)
			}
			gotPlace := ""
			if r.Placement != nil {
				gotPlace = *r.Placement
			}
			if gotPlace != tc.wantPlace {
				t.Errorf("placement %q, want %q", gotPlace, tc.wantPlace)
			}
			if r.ServerHops != tc.wantServer {
				t.Errorf("server hops %d, want %d", r.ServerHops, tc.wantServer)
			}
			if len(r.Hops) != len(tc.wantRouter) {
				t.Fatalf("%d hops, want %d", len(r.Hops), len(tc.wantRouter))
			}
			for i, h := range r.Hops {
				got := ""
				if h.Router != nil {
					got = *h.Router
				}
				if got != tc.wantRouter[i] {
					t.Errorf("hop %d router %q, want %q", i+1, got, tc.wantRouter[i])
				}
			}
			if len(r.Steps) != len(r.Hops) || r.Steps[0].Operation != model.OpTraceHop || r.Steps[0].Trace.TTL != 1 {
				t.Errorf("steps %+v", r.Steps)
			}
		})
	}
}

func TestLocateGivesUpOnSilence(t *testing.T) {
	p := &fakePath{routers: make([]netip.Addr, 40), censor: 99, technique: "reset"}
	r, err := Locate(context.Background(), p, Options{Kind: KindAnswer, Gap: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Hops) != 3 || r.ServerHops != 0 || r.CensorHop != nil {
		t.Errorf("hops %d, server %d, censor %v; want 3, 0, nil", len(r.Hops), r.ServerHops, r.CensorHop)
	}
}
