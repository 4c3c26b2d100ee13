// Package trace locates a censor on the path: it replays the exchange that
// triggers an interference (a DNS query, an HTTP request, a TLS ClientHello,
// a TCP SYN) with IP TTL 1, 2, 3, … and reports the first hop at which the
// interference appears, the router of each hop (ICMP time exceeded), whether
// the censor is on-path (the genuine answer also arrives) or in-path (it never
// does), and the hop count to the server. The network side is the Prober
// interface; the real one (NewProber) needs CAP_NET_RAW.
package trace

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/firewatch/firewatch/internal/model"
)

// Placements of a censor.
const (
	OnPath = "on-path" // the genuine answer arrives too: the censor only adds packets
	InPath = "in-path" // the genuine answer never arrives: the censor holds or drops packets
)

// DefaultMaxTTL is how far a trace goes when the server never answers.
const DefaultMaxTTL = 30

// Kind says what an interference looks like on the wire.
type Kind int

// Kinds of interference.
const (
	// KindAnswer: the censor answers (a forged DNS response, a TCP reset, a
	// block page or redirect from a transparent proxy).
	KindAnswer Kind = iota
	// KindSilence: the censor drops the packet (a blackholed connect).
	KindSilence
)

// Answer is one thing that came back to a replayed exchange.
type Answer struct {
	Reset   bool   // a TCP RST
	Digest  string // what identifies the content (DNS rcode and addresses; HTTP status, Location and body start)
	Summary string // for a person and the record
}

// Observation is what came back within the wait after one packet (or
// exchange) was sent with a given TTL.
type Observation struct {
	Router  netip.Addr // the source of an ICMP time exceeded quoting the packet; invalid when none came
	Reached bool       // the destination itself answered (port unreachable, a SYN-ACK)
	Answers []Answer   // answers to the exchange, in arrival order
	// NoService: the destination answered the exchange itself with ICMP
	// port unreachable (no DNS server there): no genuine answer can come.
	NoService bool
	Err       error // the probe could not be sent (not an absence of answers)
}

// Prober sends the two probes of each TTL.
type Prober interface {
	// Replay sends the triggering exchange with IP TTL ttl.
	Replay(ctx context.Context, ttl int) Observation
	// Path sends a benign packet (UDP to a closed port) to the same server
	// with IP TTL ttl: its ICMP answers name the routers and the server's hop.
	Path(ctx context.Context, ttl int) Observation
}

// Hop is one TTL of the result, as printed by `firewatch trace --json`.
type Hop struct {
	TTL          int     `json:"ttl"`
	Router       *string `json:"router"`
	Interference bool    `json:"interference"`
}

// Result is the outcome of a trace, as printed by `firewatch trace --json`.
type Result struct {
	Target     string  `json:"target"`
	Method     string  `json:"method"`
	CensorHop  *int    `json:"censor_hop"`
	Placement  *string `json:"placement"`
	ServerHops int     `json:"server_hops"` // 0 when the server never answered
	Hops       []Hop   `json:"hops"`
	// Steps are the trace_hop steps for the record (not printed).
	Steps []model.Step `json:"-"`
}

// Options configure Locate.
type Options struct {
	Target  string
	Method  string
	Kind    Kind
	Address string // the server's address, for the steps
	Host    string // the name the exchange is about, for the steps
	MaxTTL  int    // 0: DefaultMaxTTL
	// Gap stops the trace after this many TTLs in a row where nothing came
	// back at all (0: 5), as traceroute gives up on a silent path.
	Gap int
}

type sample struct {
	ttl         int
	start       time.Time
	dur         time.Duration
	replay, pth Observation
}

// Locate replays the exchange at TTL 1, 2, … until the server answers (or
// MaxTTL, or Gap silent TTLs in a row) and derives the censor's hop and
// placement. It fails only when a probe cannot be sent at all.
func Locate(ctx context.Context, p Prober, o Options) (*Result, error) {
	if o.MaxTTL <= 0 {
		o.MaxTTL = DefaultMaxTTL
	}
	if o.Gap <= 0 {
		o.Gap = 5
	}
	var samples []sample
	silent := 0
	for ttl := 1; ttl <= o.MaxTTL; ttl++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s := sample{ttl: ttl, start: time.Now()}
		done := make(chan Observation, 1)
		go func() { done <- p.Path(ctx, ttl) }()
		s.replay = p.Replay(ctx, ttl)
		s.pth = <-done
		s.dur = time.Since(s.start)
		for _, err := range []error{s.replay.Err, s.pth.Err} {
			if err != nil {
				return nil, fmt.Errorf("trace: ttl %d: %w", ttl, err)
			}
		}
		samples = append(samples, s)
		if s.pth.Reached || s.replay.Reached || secondContent(samples) == ttl {
			break
		}
		if !s.replay.Router.IsValid() && !s.pth.Router.IsValid() && len(s.replay.Answers) == 0 {
			if silent++; silent >= o.Gap {
				break
			}
		} else {
			silent = 0
		}
	}
	return analyse(o, samples), nil
}

// analyse derives the result from the samples. The server's hop is the
// first TTL at which the server itself answered; an answer that arrives at
// a lower TTL cannot come from the server, so it is interference, and so is
// the same content arriving later. A genuine answer is any other answer at
// or beyond the server's hop.
func analyse(o Options, samples []sample) *Result {
	r := &Result{Target: o.Target, Method: o.Method, Hops: []Hop{}, Steps: []model.Step{}}
	for _, s := range samples {
		if s.pth.Reached || s.replay.Reached {
			r.ServerHops = s.ttl
			break
		}
	}
	if r.ServerHops == 0 {
		r.ServerHops = secondContent(samples)
	}
	forged := map[string]bool{}
	type verdict struct{ interference, genuine bool }
	vs := make([]verdict, len(samples))
	for i, s := range samples {
		var v verdict
		switch o.Kind {
		case KindSilence:
			pathAnswered := s.pth.Router.IsValid() || s.pth.Reached
			v.interference = !s.replay.Reached && !s.replay.Router.IsValid() && len(s.replay.Answers) == 0 && pathAnswered
			v.genuine = s.replay.Reached
		default:
			early := r.ServerHops == 0 || s.ttl < r.ServerHops
			for _, a := range s.replay.Answers {
				switch {
				case a.Reset, early, forged[a.Digest]:
					forged[a.Digest] = true
					v.interference = true
				default:
					v.genuine = true
				}
			}
		}
		vs[i] = v
	}
	first := -1
	for i, v := range vs {
		if v.interference {
			first = i
			break
		}
	}
	if first >= 0 {
		hop := samples[first].ttl
		if o.Kind == KindSilence && first > 0 && samples[first-1].replay.Router.IsValid() {
			// A blackhole at hop N still answers packets that expire there
			// and drops those it would forward: the last hop that answered.
			hop = samples[first-1].ttl
		}
		r.CensorHop = &hop
		placement, known := InPath, true
		for i, v := range vs {
			if v.interference && v.genuine && (r.ServerHops == 0 || samples[i].ttl >= r.ServerHops) {
				placement = OnPath
			}
			if samples[i].replay.NoService {
				known = false
			}
		}
		if placement == OnPath || known {
			r.Placement = &placement
		}
	}
	for i, s := range samples {
		h := Hop{TTL: s.ttl, Interference: vs[i].interference}
		router := s.replay.Router
		if !router.IsValid() {
			router = s.pth.Router
		}
		if router.IsValid() {
			a := router.String()
			h.Router = &a
		}
		r.Hops = append(r.Hops, h)
		st := step(o, s, h, vs[i].genuine)
		if r.CensorHop != nil && *r.CensorHop == s.ttl {
			st.Trace.Censor = true
			if r.Placement != nil {
				st.Trace.Placement = *r.Placement
			}
		}
		r.Steps = append(r.Steps, st)
	}
	return r
}

// secondContent is the server's hop when it never answered the path probe:
// the first TTL at which a second, different content arrives (the first
// one, arriving earlier, being the censor's).
func secondContent(samples []sample) int {
	seen := map[string]bool{}
	for _, s := range samples {
		fresh := false
		for _, a := range s.replay.Answers {
			if !a.Reset && !seen[a.Digest] {
				fresh = len(seen) > 0
				seen[a.Digest] = true
			}
		}
		if fresh {
			return s.ttl
		}
	}
	return 0
}

func step(o Options, s sample, h Hop, genuine bool) model.Step {
	d := &model.TraceHopData{Method: o.Method, TTL: s.ttl, Interference: h.Interference, Genuine: genuine,
		Reached: s.pth.Reached || s.replay.Reached, Answers: []string{}}
	if h.Router != nil {
		d.Router = *h.Router
	}
	for _, a := range s.replay.Answers {
		d.Answers = append(d.Answers, a.Summary)
	}
	return model.Step{Operation: model.OpTraceHop, Address: o.Address, Hostname: o.Host,
		StartedAt: s.start.UTC(), DurationMS: float64(s.dur.Microseconds()) / 1000, Trace: d}
}
