// Package probe measures one target from this vantage: DNS through the system
// and named resolvers, TCP connect to every address, TLS with the full chain,
// HTTP(S) with every redirect hop, mail greetings and STARTTLS, and downloads.
// Every step is recorded in a model.Measurement with one failure vocabulary.
package probe

import (
	"context"
	"fmt"
	"time"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/netx"
	"github.com/firewatch/firewatch/internal/target"
	"github.com/google/uuid"
)

// Config configures a Probe. Zero values take the defaults.
type Config struct {
	Network          *netx.Network // nil: the host's network
	Resolvers        []string      // "udp://IP:PORT", "tcp://IP:PORT", "https://HOST/dns-query"; empty: system resolver
	Timeout          time.Duration // per step (default 10s)
	InjectionWindow  time.Duration // how long to keep listening on UDP after the first DNS response (default 1s)
	MaxRedirects     int           // default 10
	MaxBodyBytes     int64         // default 1 MiB
	MaxDownloadBytes int64         // default 64 MiB
	MaxAddrs         int           // distinct addresses dialed per host and port (default DefaultMaxAddrs)
	Vantage          string        // "probe" (default) or "control"
	Info             model.ProbeInfo
	// MaxPerAddress bounds the connections open at once to one server
	// address across all measurements (default 4; negative: no bound).
	MaxPerAddress int
	// Serial waits for the whole DNS injection window before connecting:
	// the schedule before issue 9, kept as the benchmarks' baseline.
	Serial bool
	// HTTP3 measures HTTP/3 (QUIC on the target's port) for every https
	// target; without it only a site that advertises h3 (Alt-Svc) is.
	HTTP3 bool
}

// Defaults of Config.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultInjectionWindow  = time.Second
	DefaultMaxRedirects     = 10
	DefaultMaxBodyBytes     = 1 << 20
	DefaultMaxDownloadBytes = 64 << 20
	DefaultMaxPerAddress    = 4
)

// Probe measures targets. It is safe for concurrent use.
type Probe struct {
	cfg       Config
	net       *netx.Network
	resolvers []resolver
	ipv6      *ipv6Route
	slots     *addrSlots
}

// New checks cfg, fills in the defaults and returns a Probe.
func New(cfg Config) (*Probe, error) {
	if cfg.Network == nil {
		cfg.Network = &netx.Network{}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.InjectionWindow <= 0 {
		cfg.InjectionWindow = DefaultInjectionWindow
	}
	if cfg.MaxRedirects <= 0 {
		cfg.MaxRedirects = DefaultMaxRedirects
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxDownloadBytes <= 0 {
		cfg.MaxDownloadBytes = DefaultMaxDownloadBytes
	}
	if cfg.MaxPerAddress == 0 {
		cfg.MaxPerAddress = DefaultMaxPerAddress
	}
	if cfg.MaxAddrs <= 0 {
		cfg.MaxAddrs = DefaultMaxAddrs
	}
	switch cfg.Vantage {
	case "":
		cfg.Vantage = model.VantageProbe
	case model.VantageProbe, model.VantageControl:
	default:
		return nil, fmt.Errorf("probe: vantage %q, want probe or control", cfg.Vantage)
	}
	p := &Probe{cfg: cfg, net: cfg.Network, ipv6: &ipv6Route{}, slots: newAddrSlots(cfg.MaxPerAddress)}
	for _, r := range cfg.Resolvers {
		res, err := parseResolver(r)
		if err != nil {
			return nil, err
		}
		p.resolvers = append(p.resolvers, res)
	}
	return p, nil
}

// Extra asks for more observations, used by the control: also connect to
// these addresses (and, for TLS targets, handshake with the target's SNI; for
// http:// targets, also a TLS handshake on port 443 with the host as SNI, so a
// verdict can check whether an address presents a valid certificate for the
// name); with HTTP3, also measure HTTP/3 for an https target that does not
// advertise it (the other vantage tried it).
type Extra struct {
	Addrs []string
	HTTP3 bool
	// OnResolved, when set, is called once, as soon as the target's first
	// DNS answers are in (before any connection), with what the probe
	// resolved so far; the measurement goes on meanwhile. Answers that
	// arrive later are in the record only. The assessment uses it to ask
	// the control in parallel with the inside measurement.
	OnResolved func(Resolved)
}

// Resolved is what the probe resolved of a target's name at its first
// answers: the non-bogon addresses (IPv4 first, in answer order) and the
// resolvers it asked, as recorded.
type Resolved struct {
	Addrs     []string
	Resolvers []string
}

// Measure measures t and returns its record. It never returns nil; failures
// are recorded in the steps.
func (p *Probe) Measure(ctx context.Context, t target.Target, extra Extra) *model.Measurement {
	m := &model.Measurement{
		Schema:    model.SchemaVersion,
		ID:        uuid.NewString(),
		Target:    t.String(),
		Input:     t.Input,
		Category:  t.Category,
		StartedAt: time.Now().UTC(),
		Vantage:   p.cfg.Vantage,
		Probe:     p.cfg.Info,
		Status:    model.StatusMeasured,
		Methods:   []string{},
		Steps:     []model.Step{},
	}
	m.Resolvers = p.resolverNames()
	rec := &recorder{}
	p.measure(ctx, rec, t, extra)
	m.Steps = append(m.Steps, rec.steps...)
	m.AddrsNotTried = rec.addrsNotTried()
	m.RuntimeMS = ms(time.Since(m.StartedAt))
	return m
}
