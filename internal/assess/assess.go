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
	"slices"
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
	RetestDelay time.Duration // between tries with Serial (0: DefaultRetestDelay)
	// Serial runs the schedule before issue 9, kept as the benchmarks'
	// baseline: the control is asked after the inside measurement, and
	// retests run one after another, RetestDelay apart. By default the
	// control measures while the inside does and retests run together.
	Serial bool
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
// is not retested), the target is measured Retests more times: at once and
// all together (each try its own connections), or with Serial one after
// another, RetestDelay apart. The result is the most common (status,
// methods) among the tries, the earliest try winning a tie; the returned
// record is the first try with that result, and Verdict.Confidence says how
// many tries agreed.
func (a *Assessor) Assess(ctx context.Context, t target.Target) *model.Measurement {
	a.once.Do(func() { a.info, a.self = a.locate(ctx) })
	first := a.try(ctx, t)
	tries := []*model.Measurement{first}
	if first.Status == model.StatusBlocked && a.Control != nil {
		n := a.Retests
		if n == 0 {
			n = DefaultRetests
		}
		tries = append(tries, a.retests(ctx, t, max(n, 0))...)
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

// retests runs n more tries of t, in try order. Without Serial they all
// start at once: each is a measurement of its own, with its own connections
// (and, for a censor that drops at random, its own draw), so nothing is
// gained by waiting between them. With Serial they run one after another,
// RetestDelay apart.
func (a *Assessor) retests(ctx context.Context, t target.Target, n int) []*model.Measurement {
	if !a.Serial {
		out := make([]*model.Measurement, n)
		var wg sync.WaitGroup
		for i := range out {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out[i] = a.try(ctx, t)
			}()
		}
		wg.Wait()
		if ctx.Err() != nil {
			return nil // cut short: these tries measured the interruption
		}
		return out
	}
	delay := a.RetestDelay
	if delay <= 0 {
		delay = DefaultRetestDelay
	}
	var out []*model.Measurement
	for i := 0; i < n && ctx.Err() == nil; i++ {
		select {
		case <-ctx.Done():
		case <-time.After(delay):
			out = append(out, a.try(ctx, t))
		}
	}
	return out
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

// try is one inside measurement with its control and verdict. Unless
// Serial, the control is asked as soon as the inside has its first DNS
// answers, and measures while the inside does; if later answers name
// addresses the control did not measure, it is asked again with all of them,
// so the verdict sees what the serial schedule would.
func (a *Assessor) try(ctx context.Context, t target.Target) *model.Measurement {
	opts := a.Verdict
	if opts.Geo == nil {
		opts.Geo = a.Geo
	}
	if a.Control == nil {
		m := a.Probe.Measure(ctx, t, probe.Extra{})
		scrubSelf(m, a.self)
		if opts.NoControlReason == "" {
			opts.NoControlReason = "no control configured (--control or " + control.EnvURL + ")"
		}
		verdict.Apply(m, nil, opts)
		return m
	}
	var ask *controlCall
	extra := probe.Extra{}
	if !a.Serial {
		extra.OnResolved = func(r probe.Resolved) {
			ask = a.askControl(ctx, control.MeasureRequest{Target: t.String(), Addrs: r.Addrs, Resolvers: udpOnly(r.Resolvers)})
		}
	}
	m := a.Probe.Measure(ctx, t, extra)
	scrubSelf(m, a.self)
	req := control.MeasureRequest{Target: t.String(), Addrs: ResolvedAddrs(m, t.Host), Resolvers: udpResolvers(m), HTTP3: triedHTTP3(m)}
	var resp *control.MeasureResponse
	var err error
	if ask != nil {
		resp, err = ask.wait()
		if err == nil && (!slices.Equal(ask.req.Resolvers, req.Resolvers) || !measuredAll(resp.Measurement, newAddrs(req.Addrs, ask.req.Addrs))) {
			resp, err = a.askControl(ctx, req).wait()
		}
	} else {
		resp, err = a.askControl(ctx, req).wait()
	}
	if err == nil && req.HTTP3 && !triedHTTP3(resp.Measurement) {
		// Asked before the inside tried HTTP/3, the control did not:
		// ask again so that the verdict can compare.
		resp, err = a.askControl(ctx, req).wait()
	}
	if err != nil {
		opts.NoControlReason = "control failed: " + err.Error()
		opts.ControlFailed = true
		verdict.Apply(m, nil, opts)
		return m
	}
	ctl := resp.Measurement
	ctl.Control, ctl.Verdict = nil, nil
	verdict.Apply(m, ctl, opts)
	return m
}

// controlCall is one question to the control in flight.
type controlCall struct {
	req  control.MeasureRequest
	done chan struct{}
	resp *control.MeasureResponse
	err  error
}

func (c *controlCall) wait() (*control.MeasureResponse, error) {
	<-c.done
	return c.resp, c.err
}

// askControl asks the control to measure req, in the background.
func (a *Assessor) askControl(ctx context.Context, req control.MeasureRequest) *controlCall {
	c := &controlCall{req: req, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		c.resp, c.err = a.Control.MeasureRequest(ctx, req)
		var se *control.StatusError
		if errors.As(c.err, &se) && se.Code == http.StatusForbidden && (len(req.Addrs) > 0 || len(req.Resolvers) > 0) {
			// The control refused one of our addresses (e.g. private
			// space): measure the target alone.
			c.resp, c.err = a.Control.MeasureRequest(ctx, control.MeasureRequest{Target: req.Target})
		}
	}()
	return c
}

// newAddrs returns the addresses of addrs not in asked.
func newAddrs(addrs, asked []string) []string {
	var out []string
	for _, a := range addrs {
		if !slices.Contains(asked, a) {
			out = append(out, a)
		}
	}
	return out
}

// measuredAll reports whether the control's record connected to every one
// of addrs (as its own answer or as an address it was asked for): asking it
// again with them would add nothing.
func measuredAll(ctl *model.Measurement, addrs []string) bool {
	if len(addrs) == 0 {
		return true
	}
	if ctl == nil {
		return false
	}
	seen := map[string]bool{}
	for _, s := range ctl.Steps {
		if s.Operation != model.OpConnect {
			continue
		}
		if ap, err := netip.ParseAddrPort(s.Address); err == nil {
			seen[ap.Addr().Unmap().String()] = true
		}
	}
	for _, a := range addrs {
		if !seen[a] {
			return false
		}
	}
	return true
}

// triedHTTP3 reports whether a record measured HTTP/3: when the inside did,
// the control must too, so the verdict can compare (a censor may strip the
// Alt-Svc advertisement, or the probe was asked with --http3).
func triedHTTP3(m *model.Measurement) bool {
	if m == nil {
		return false
	}
	for _, s := range m.Steps {
		if s.Operation == model.OpQUICHandshake {
			return true
		}
	}
	return false
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
func udpResolvers(m *model.Measurement) []string { return udpOnly(m.Resolvers) }

// udpOnly returns the udp:// resolvers of rs.
func udpOnly(rs []string) []string {
	var out []string
	for _, r := range rs {
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
