package emunet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/firewatch/firewatch/internal/assess"
	"github.com/firewatch/firewatch/internal/control"
	"github.com/firewatch/firewatch/internal/lab"
	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/lab/verify"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/probe"
	"github.com/firewatch/firewatch/internal/target"
)

// CheckOptions tune the probe and the control of Checker. Zero values take
// the defaults, chosen so that a scenario runs in seconds without changing a
// verdict: the lab's DNS answers arrive within 50 ms, and a blackholed
// connect times out the same at 3 s as at 10 s.
type CheckOptions struct {
	Timeout         time.Duration // per probe step (default 3s)
	InjectionWindow time.Duration // listening on after the first DNS response (default 500ms)
	RetestDelay     time.Duration // between the tries of a blocked target (default 50ms)
}

// ControlAddr is where the emulated control listens, as in the lab.
var ControlAddr = netip.AddrPortFrom(lab.OutsideAddr, uint16(lab.ControlPort))

// Checker starts the control in the outside vantage (the probe of
// `firewatch control --lab` with the public resolver, as `lab up` runs it,
// unless the scenario says control: down)
// and returns the check of one expect entry: `firewatch check` inside, with
// the entry's resolver, through probe → control → verdict → retests.
func (n *Net) Checker(o CheckOptions) (verify.CheckFunc, error) {
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	if o.InjectionWindow <= 0 {
		o.InjectionWindow = 500 * time.Millisecond
	}
	if o.RetestDelay <= 0 {
		o.RetestDelay = 50 * time.Millisecond
	}
	if !n.sc.ControlDown { // control: down: the probe asks, nothing listens
		if err := n.startControl(o); err != nil {
			return nil, err
		}
	}
	in := n.Inside()
	client := n.controlClient()
	return func(ctx context.Context, e scenario.Expect) ([]*model.Measurement, error) {
		ts, err := target.Parse(e.Target)
		if err != nil {
			return nil, err
		}
		cfg := probe.Config{Network: in, Timeout: o.Timeout, InjectionWindow: o.InjectionWindow,
			Info: model.ProbeInfo{Country: "ZZ", Software: "firewatch/emunet"}}
		if e.Resolver != "" {
			cfg.Resolvers = []string{e.Resolver}
		}
		p, err := probe.New(cfg)
		if err != nil {
			return nil, err
		}
		a := &assess.Assessor{Probe: p, Control: client, RetestDelay: o.RetestDelay}
		var out []*model.Measurement
		for _, t := range ts {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			out = append(out, a.Assess(ctx, t))
		}
		return out, nil
	}, nil
}

// controlClient is the inside probe's client of the emulated control.
func (n *Net) controlClient() *control.Client {
	return &control.Client{URL: "http://" + ControlAddr.String(),
		HTTP: &http.Client{Timeout: 3 * time.Minute, Transport: &http.Transport{DialContext: n.Inside().DialContext}}}
}

// startControl serves the control on ControlAddr until the lab closes.
func (n *Net) startControl(o CheckOptions) error {
	out := n.Outside()
	p, err := probe.New(probe.Config{Network: out, Vantage: model.VantageControl, Timeout: o.Timeout, InjectionWindow: o.InjectionWindow,
		Resolvers: []string{"udp://" + netip.AddrPortFrom(lab.PublicResolver, 53).String()}})
	if err != nil {
		return err
	}
	srv, err := control.NewServer(control.Config{Probe: p, Network: out, Lab: true, Rate: 1000, Burst: 1000, DNSTimeout: o.Timeout})
	if err != nil {
		return err
	}
	ln, err := n.Listen(ControlAddr)
	if err != nil {
		return fmt.Errorf("emunet: control: %w", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && n.ctx.Err() == nil {
			n.logf("control: %v", err)
		}
	}()
	go func() { <-n.ctx.Done(); hs.Close() }()
	return nil
}
