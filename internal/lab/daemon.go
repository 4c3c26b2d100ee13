package lab

import (
	"context"
	"crypto/tls"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/lab/services"
)

// Delays on DNS answers, so that an answer the censor injects (in
// microseconds) reliably wins the race against the genuine one.
const (
	AuthoritativeDelay = 30 * time.Millisecond
	ResolverDelay      = 20 * time.Millisecond
)

// RunDaemon runs one daemon role of the lab in the current namespace (the
// lab starts it with `ip netns exec NS firewatch lab daemon ROLE --state DIR`)
// until ctx is done.
func RunDaemon(ctx context.Context, role, dir string) error {
	if dir == "" {
		dir = DefaultStateDir
	}
	lg := log.New(os.Stderr, role+": ", log.LstdFlags|log.Lmicroseconds)
	st, err := LoadState(dir)
	if err != nil {
		return err
	}
	sc, err := scenario.Load(st.Scenario)
	if err != nil {
		return err
	}
	switch role {
	case RoleServices:
		err = runServices(ctx, dir, sc, lg)
	case RoleISPResolver:
		err = runISPResolver(ctx, sc, lg)
	case RoleCensor:
		err = runCensor(ctx, dir, st, sc, lg)
	default:
		return fmt.Errorf("lab daemon: unknown role %q (want %s, %s or %s)", role, RoleServices, RoleISPResolver, RoleCensor)
	}
	if err != nil {
		lg.Printf("exiting: %v", err)
		return err
	}
	lg.Printf("stopped")
	return nil
}

// ISPResolverDelay is how late the ISP resolver of sc answers: the
// scenario's resolver_delay, else ResolverDelay.
func ISPResolverDelay(sc *scenario.Scenario) time.Duration {
	if sc.ResolverDelay > 0 {
		return sc.ResolverDelay
	}
	return ResolverDelay
}

func runServices(ctx context.Context, dir string, sc *scenario.Scenario, lg *log.Logger) error {
	cas, err := LoadCAs(dir)
	if err != nil {
		return err
	}
	auth := services.NewAuthority(sc.Hosts, AuthoritativeDelay)
	auth.Inside = []netip.Prefix{InsidePrefix}
	_, err = services.Start(ctx, services.Config{
		Hosts:  sc.Hosts,
		Inside: []netip.Prefix{InsidePrefix},
		Certificate: func(h scenario.Host) (tls.Certificate, error) {
			return cas.Public.HostLeaf(h.Names, h.IPs(), h.Certificate)
		},
		Authority: auth,
		Log:       lg,
	})
	if err != nil {
		return err
	}
	authAddr := net.JoinHostPort(Authoritative.String(), "53")
	if _, err := services.StartDNS(ctx, authAddr, auth); err != nil {
		return fmt.Errorf("authoritative DNS on %s: %w", authAddr, err)
	}
	lg.Printf("authoritative DNS on %s", authAddr)
	pubAddr := net.JoinHostPort(PublicResolver.String(), "53")
	fwd := &services.Forwarder{Upstream: authAddr, Local: PublicResolver, Delay: ResolverDelay}
	if _, err := services.StartDNS(ctx, pubAddr, fwd); err != nil {
		return fmt.Errorf("public resolver on %s: %w", pubAddr, err)
	}
	lg.Printf("public resolver on %s", pubAddr)
	<-ctx.Done()
	return nil
}

// runISPResolver serves the inside's recursive resolvers: the ISP's and
// every dns-open host's, each sending its upstream queries from its own
// address across the censor.
func runISPResolver(ctx context.Context, sc *scenario.Scenario, lg *log.Logger) error {
	locals := []netip.Addr{ISPResolver}
	for _, h := range sc.Hosts {
		if h.OpenResolver() {
			locals = append(locals, h.IP)
		}
	}
	upstream := net.JoinHostPort(Authoritative.String(), "53")
	for i, local := range locals {
		addr := net.JoinHostPort(local.String(), "53")
		delay := ResolverDelay
		if i == 0 {
			delay = ISPResolverDelay(sc) // a scenario's resolver_delay slows the ISP resolver only
		}
		fwd := &services.Forwarder{Upstream: upstream, Local: local, Delay: delay}
		if _, err := services.StartDNS(ctx, addr, fwd); err != nil {
			return fmt.Errorf("inside resolver on %s: %w", addr, err)
		}
		what := "ISP resolver"
		if i > 0 {
			what = "open resolver"
		}
		lg.Printf("%s on %s (upstream %s across the censor)", what, addr, upstream)
	}
	<-ctx.Done()
	return nil
}
