package main

import (
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/netx"
	"github.com/firewatch/firewatch/internal/probe"
	"github.com/firewatch/firewatch/internal/runner"
	"github.com/spf13/pflag"
)

// probeFlags are the flags shared by check and run.
type probeFlags struct {
	resolvers   []string
	caFile      string
	timeout     time.Duration
	perAddress  int
	dnsWindow   time.Duration
	schedule    string
	maxAddrs    int
	http3       bool
	assessFlags // --control, --control-token, --asn-db, --retests (assessflags.go)
}

// Schedules of --schedule.
const (
	scheduleParallel = "parallel"
	scheduleSerial   = "serial"
)

func (f *probeFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.resolvers, "resolver", nil, "DNS resolver: udp://IP:PORT, tcp://IP:PORT or https://HOST/dns-query (repeatable; default: the system's)")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM file of trust roots to use instead of the system's")
	fs.DurationVar(&f.timeout, "timeout", probe.DefaultTimeout, "timeout of each network step")
	fs.DurationVar(&f.dnsWindow, "dns-window", probe.DefaultInjectionWindow, "how long to keep listening for more DNS answers after the first (an injected answer comes first)")
	fs.IntVar(&f.perAddress, "per-address", probe.DefaultMaxPerAddress, "connections open at once to one server address, across the targets in flight")
	fs.StringVar(&f.schedule, "schedule", scheduleParallel, "parallel: connect at the first DNS answer, ask the control meanwhile, retest at once; serial: the schedule before issue 9 (whole DNS window first, control after, retests 1 s apart), the benchmarks' baseline")
	fs.IntVar(&f.maxAddrs, "max-addrs", probe.DefaultMaxAddrs, maxAddrsUsage)
	fs.BoolVar(&f.http3, "http3", false, "measure HTTP/3 (QUIC on UDP) for every https target, also those that do not advertise it with Alt-Svc")
	f.registerAssess(fs)
}

// maxAddrsUsage is the help of --max-addrs (probe commands and control).
const maxAddrsUsage = "distinct addresses dialed per host and port (a forged DNS answer with thousands decides nothing); the record counts those not tried"

// network builds the probe's network from the flags and FIREWATCH_ROUTABLE.
func (f *probeFlags) network() (*netx.Network, error) {
	n := &netx.Network{}
	if f.caFile != "" {
		pool, err := netx.LoadRootCAs(f.caFile)
		if err != nil {
			return nil, err
		}
		n.RootCAs = pool
	}
	if v := os.Getenv("FIREWATCH_ROUTABLE"); v != "" {
		r, err := netx.ParseRoutable(v)
		if err != nil {
			return nil, fmt.Errorf("FIREWATCH_ROUTABLE: %w", err)
		}
		n.Routable = r
	}
	return n, nil
}

// probeConfig builds the probe configuration from the flags.
func (f *probeFlags) probeConfig() (probe.Config, error) {
	if f.timeout <= 0 {
		return probe.Config{}, fmt.Errorf("--timeout %s: must be positive", f.timeout)
	}
	if f.dnsWindow <= 0 {
		return probe.Config{}, fmt.Errorf("--dns-window %s: must be positive", f.dnsWindow)
	}
	if f.perAddress < 1 {
		return probe.Config{}, fmt.Errorf("--per-address %d: must be at least 1", f.perAddress)
	}
	if f.schedule != scheduleParallel && f.schedule != scheduleSerial {
		return probe.Config{}, fmt.Errorf("--schedule %q: want %s or %s", f.schedule, scheduleParallel, scheduleSerial)
	}
	if f.maxAddrs < 1 || f.maxAddrs > probe.MaxAddrs {
		return probe.Config{}, fmt.Errorf("--max-addrs %d: must be from 1 to %d", f.maxAddrs, probe.MaxAddrs)
	}
	n, err := f.network()
	if err != nil {
		return probe.Config{}, err
	}
	return probe.Config{
		Network:         n,
		Resolvers:       f.resolvers,
		Timeout:         f.timeout,
		MaxPerAddress:   f.perAddress,
		InjectionWindow: f.dnsWindow,
		Serial:          f.schedule == scheduleSerial,
		MaxAddrs:        f.maxAddrs,
		HTTP3:           f.http3,
		Info: model.ProbeInfo{
			Country:  "ZZ",
			Software: "firewatch/" + version,
			Platform: runtime.GOOS + "/" + runtime.GOARCH,
		},
	}, nil
}

// measurer returns the function check and run measure each target with.
// It is the one place that decides how a target is measured.
func (f *probeFlags) measurer() (runner.MeasureFunc, error) {
	cfg, err := f.probeConfig()
	if err != nil {
		return nil, err
	}
	p, err := probe.New(cfg)
	if err != nil {
		return nil, err
	}
	return f.assessor(p, cfg.Serial) // inside → control → verdict → retests
}
