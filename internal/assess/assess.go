// Package assess runs the whole assessment of one target: measure it inside,
// ask the control to measure it outside (with the addresses the inside got),
// decide the verdict, retest when it looks blocked, and fill the record's
// status, methods, verdict, control and probe country/network. It is what
// check, run, lab verify and the agent call.
package assess

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/firewatch/firewatch/internal/control"
	"github.com/firewatch/firewatch/internal/geo"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/probe"
	"github.com/firewatch/firewatch/internal/target"
	"github.com/firewatch/firewatch/internal/verdict"
)

// Defaults of Assessor.
const (
	DefaultRetests     = 2
	DefaultRetestDelay = time.Second
)

// Assessor assesses targets. Fields are read-only once Assess is called; it
// is safe for concurrent use.
type Assessor struct {
	Probe   probe.Measurer  // the inside measurement (a *probe.Probe)
	Control *control.Client // nil: no control, every verdict is weak
	Geo     *geo.DB         // for the probe's country/ASN and the verdict's ASN step; nil: unknown
	// Retests is how many more tries a target that looks blocked gets
	// (0: DefaultRetests; negative: none). Only with a control.
	Retests     int
	RetestDelay time.Duration // between tries (0: DefaultRetestDelay)
	// Verdict tunes the decision; its Geo defaults to the Assessor's.
	Verdict verdict.Options

	once sync.Once
	info model.ProbeInfo // country/ASN/network found through the control
	self netip.Addr      // the probe's own address, only to scrub it from records
}

// Assess measures t and returns its record with the verdict. It never
// returns nil and never fails: a control that cannot be reached gives a weak
// verdict whose Reason says why.
//
// When the first try is blocked (and a control is configured: a weak verdict
// is not retested), the target is measured Retests more times, RetestDelay
// apart. The result is the most common (status, methods) among
// the tries, the earliest try winning a tie; the returned record is the first
// try with that result, and Verdict.Confidence says how many tries agreed.
func (a *Assessor) Assess(ctx context.Context, t target.Target) *model.Measurement {
	a.once.Do(func() { a.info, a.self = a.locate(ctx) })
	first := a.try(ctx, t)
	tries := []*model.Measurement{first}
	if first.Status == model.StatusBlocked && a.Control != nil {
		n := a.Retests
		if n == 0 {
			n = DefaultRetests
		}
		delay := a.RetestDelay
		if delay <= 0 {
			delay = DefaultRetestDelay
		}
		for i := 0; i < n && ctx.Err() == nil; i++ {
			select {
			case <-ctx.Done():
			case <-time.After(delay):
				tries = append(tries, a.try(ctx, t))
			}
		}
	}
	m, agreed := majority(tries)
	m.Verdict.Confidence = &model.Confidence{Agreed: agreed, Tries: len(tries)}
	if a.info.Country != "" {
		m.Probe.Country, m.Probe.ASN, m.Probe.Network = a.info.Country, a.info.ASN, a.info.Network
	}
	if m.Probe.Country == "" {
		m.Probe.Country = geo.Unknown
	}
	return m
}

// scrubSelf replaces the probe's own address with "[scrubbed]" in the text
// the network sent back (a block page saying "your IP is ...", a header, a
// mail banner): the record must never hold it. Addresses of steps are the
// far ends and are left alone.
func scrubSelf(m *model.Measurement, self netip.Addr) {
	if !self.IsValid() {
		return
	}
	ip := self.String()
	var re *regexp.Regexp
	scrub := func(p *string) {
		if !strings.Contains(*p, ip) {
			return
		}
		if re == nil {
			re = regexp.MustCompile(`\b` + regexp.QuoteMeta(ip) + `\b`)
		}
		*p = re.ReplaceAllString(*p, "[scrubbed]")
	}
	for i := range m.Steps {
		if h := m.Steps[i].HTTP; h != nil {
			scrub(&h.Title)
			scrub(&h.BodyHead)
			scrub(&h.Location)
			for k, v := range h.Headers {
				scrub(&v)
				h.Headers[k] = v
			}
		}
		if ml := m.Steps[i].Mail; ml != nil {
			scrub(&ml.Banner)
			scrub(&ml.Reply)
			for j := range ml.Capabilities {
				scrub(&ml.Capabilities[j])
			}
		}
	}
}

func resultKey(m *model.Measurement) string { return m.Status + " " + strings.Join(m.Methods, ",") }

// majority returns the earliest try with the most common result and how many
// tries had it.
func majority(tries []*model.Measurement) (*model.Measurement, int) {
	count := map[string]int{}
	for _, m := range tries {
		count[resultKey(m)]++
	}
	best, n := tries[0], 0
	for _, m := range tries {
		if c := count[resultKey(m)]; c > n {
			best, n = m, c
		}
	}
	return best, n
}

// try is one inside measurement with its control and verdict.
func (a *Assessor) try(ctx context.Context, t target.Target) *model.Measurement {
	m := a.Probe.Measure(ctx, t, probe.Extra{})
	scrubSelf(m, a.self)
	opts := a.Verdict
	if opts.Geo == nil {
		opts.Geo = a.Geo
	}
	if a.Control == nil {
		if opts.NoControlReason == "" {
			opts.NoControlReason = "no control configured (--control or " + control.EnvURL + ")"
		}
		verdict.Apply(m, nil, opts)
		return m
	}
	req := control.MeasureRequest{Target: t.String(), Addrs: ResolvedAddrs(m, t.Host), Resolvers: udpResolvers(m)}
	resp, err := a.Control.MeasureRequest(ctx, req)
	var se *control.StatusError
	if errors.As(err, &se) && se.Code == http.StatusForbidden && (len(req.Addrs) > 0 || len(req.Resolvers) > 0) {
		// The control refused one of our addresses (e.g. private space):
		// measure the target alone.
		req.Addrs, req.Resolvers = nil, nil
		resp, err = a.Control.MeasureRequest(ctx, req)
	}
	if err != nil {
		opts.NoControlReason = "control failed: " + err.Error()
		verdict.Apply(m, nil, opts)
		return m
	}
	ctl := resp.Measurement
	ctl.Control, ctl.Verdict = nil, nil
	verdict.Apply(m, ctl, opts)
	return m
}

// locate finds the probe's country and network: the control says which
// address it sees, the ASN table maps it. The address is returned only so
// that it can be scrubbed from records; it is never stored.
func (a *Assessor) locate(ctx context.Context) (model.ProbeInfo, netip.Addr) {
	if a.Control == nil {
		return model.ProbeInfo{}, netip.Addr{}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	addr, err := a.Control.WhoAmI(ctx)
	if err != nil {
		return model.ProbeInfo{}, netip.Addr{}
	}
	info := a.Geo.Lookup(addr)
	return model.ProbeInfo{Country: info.Country, ASN: info.ASN, Network: info.Network}, addr.Unmap()
}

// ResolvedAddrs returns the addresses (IPv4 first) that host resolved to in
// m, without the bogons: what the control should also connect to.
func ResolvedAddrs(m *model.Measurement, host string) []string {
	var v4, v6 []string
	seen := map[string]bool{}
	for _, s := range m.Steps {
		if s.DNS == nil || !strings.EqualFold(s.Hostname, host) {
			continue
		}
		bogon := map[string]bool{}
		for _, b := range s.DNS.Bogons {
			bogon[b] = true
		}
		for _, r := range s.DNS.Responses {
			for _, ans := range r.Answers {
				ip, err := netip.ParseAddr(ans.Value)
				if err != nil || bogon[ans.Value] || seen[ans.Value] {
					continue
				}
				seen[ans.Value] = true
				if ip.Unmap().Is4() {
					v4 = append(v4, ip.Unmap().String())
				} else {
					v6 = append(v6, ip.String())
				}
			}
		}
	}
	return append(v4, v6...)
}

// udpResolvers returns the record's explicit UDP resolvers.
func udpResolvers(m *model.Measurement) []string {
	var out []string
	for _, r := range m.Resolvers {
		if strings.HasPrefix(r, "udp://") {
			out = append(out, r)
		}
	}
	return out
}

// String describes the assessor's setup in one line (for logs).
func (a *Assessor) String() string {
	c := "no control"
	if a.Control != nil {
		c = "control " + a.Control.URL
	}
	return fmt.Sprintf("assessor (%s, %d ASN ranges)", c, a.Geo.Len())
}
