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
		err = runISPResolver(ctx, lg)
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
			return cas.Public.Leaf(h.Names, h.IPs())
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

func runISPResolver(ctx context.Context, lg *log.Logger) error {
	addr := net.JoinHostPort(ISPResolver.String(), "53")
	fwd := &services.Forwarder{
		Upstream: net.JoinHostPort(Authoritative.String(), "53"),
		Local:    ISPResolver,
		Delay:    ResolverDelay,
	}
	if _, err := services.StartDNS(ctx, addr, fwd); err != nil {
		return fmt.Errorf("ISP resolver on %s: %w", addr, err)
	}
	lg.Printf("ISP resolver on %s (upstream %s across the censor)", addr, fwd.Upstream)
	<-ctx.Done()
	return nil
}
