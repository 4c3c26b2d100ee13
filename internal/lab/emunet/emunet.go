// Package emunet is the lab without root: an in-process emulated network
// with the lab's addresses, that routes the probe's and the control's dials
// and DNS packets to the lab's own servers (internal/lab/services) and
// applies the censor's decisions (internal/lab/policy) at connection level:
// a forged DNS answer first (race) or alone (replace), a blackhole that
// blocks a connect until its deadline, a TCP reset, a rate-limited flow,
// TLS interception with the rogue CA, STARTTLS stripping, an HTTP redirect
// or block page, a transparent HTTP proxy (unchanged or injecting). Each
// vantage is a netx.Network, so the probe and the
// control run unchanged on it.
//
// TCP flows are real loopback connections (127.0.0.0/8 only): the source
// address of a socket encodes the emulated one (198.51.100.2 is
// 127.2.100.2), so that servers see the client's lab address. UDP is
// emulated in memory.
package emunet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/firewatch/firewatch/internal/lab"
	"github.com/firewatch/firewatch/internal/lab/censor"
	"github.com/firewatch/firewatch/internal/lab/pki"
	"github.com/firewatch/firewatch/internal/lab/policy"
	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/lab/services"
	"github.com/firewatch/firewatch/internal/netx"
)

// CensorAddr is the address the censor's proxies connect to servers from:
// the censor router's (r2's) address toward the internet.
var CensorAddr = netip.MustParseAddr("198.51.100.13")

// Options configure a Net.
type Options struct {
	// Seed seeds the censor's random choices (rules with probability); 0
	// means the scenario's seed, else 1.
	Seed int64
	// Log receives one line per censor intervention; nil discards.
	Log io.Writer
	// Dir is where the resolver configurations are written; "" makes a
	// temporary directory that Close removes.
	Dir string
	// ThrottleScale multiplies the rate of throttle rules (0 means 1), so
	// that a throttled download takes a fraction of a second: the verdict
	// compares the inside rate with the control's, which on loopback stays
	// orders of magnitude faster.
	ThrottleScale float64
	// LinkRate, when positive, is the speed (bytes per second) of every
	// vantage's TCP connections, as a real link has one: without it two
	// transfers on loopback take a millisecond each, and any scheduling
	// hiccup makes their rates differ tenfold.
	LinkRate int64
}

// Net is one emulated lab: the scenario's hosts, the lab's resolvers and
// the censor between the inside network and the rest.
type Net struct {
	sc      *scenario.Scenario
	opts    Options
	pol     *policy.Policy
	proxies *censor.Proxies
	public  *pki.CA
	rogue   *pki.CA
	// rogueTrusted signs the interception of ca: rogue-trusted rules.
	rogueTrusted *pki.CA
	log          io.Writer
	logMu        sync.Mutex
	dir          string
	ownDir       bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	tcp      map[netip.AddrPort]string // emulated listening address → loopback address
	udp      map[netip.AddrPort]*packetConn
	flows    map[uint64]*flow
	nextFlow uint64
	router   net.Listener

	roll policy.Roll // the rules' probabilities, from the seed
}

// New builds the emulated lab of a scenario: it starts every host's
// services, the authoritative DNS, the public and ISP resolvers. Close
// stops them.
func New(sc *scenario.Scenario, o Options) (*Net, error) {
	pol, err := policy.New(sc.Censor, sc.Hosts)
	if err != nil {
		return nil, err
	}
	seed := o.Seed
	if seed == 0 {
		seed = sc.Seed
	}
	if seed == 0 {
		seed = 1
	}
	public, err := pki.New("public")
	if err != nil {
		return nil, err
	}
	rogue, err := pki.New("rogue")
	if err != nil {
		return nil, err
	}
	rogueTrusted, err := pki.New("rogue-trusted")
	if err != nil {
		return nil, err
	}
	n := &Net{
		sc: sc, opts: o, pol: pol, public: public, rogue: rogue, rogueTrusted: rogueTrusted, log: o.Log, dir: o.Dir,
		tcp: map[netip.AddrPort]string{}, udp: map[netip.AddrPort]*packetConn{},
		flows: map[uint64]*flow{},
		roll:  policy.Seeded(seed),
	}
	if n.log == nil {
		n.log = io.Discard
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.proxies = &censor.Proxies{Policy: pol, RogueCA: rogue, RogueTrustedCA: rogueTrusted, Roll: n.roll, Logf: n.logf,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dst, err := netip.ParseAddrPort(addr)
			if err != nil {
				return nil, &net.OpError{Op: "dial", Net: network, Err: err}
			}
			return n.dialDirect(ctx, CensorAddr, dst)
		}}
	if err := n.start(); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (n *Net) start() error {
	if n.dir == "" {
		d, err := os.MkdirTemp("", "emunet-")
		if err != nil {
			return err
		}
		n.dir, n.ownDir = d, true
	}
	for _, v := range []struct {
		file     string
		resolver netip.Addr
	}{{"inside-resolv.conf", lab.ISPResolver}, {"outside-resolv.conf", lab.PublicResolver}} {
		if err := os.WriteFile(filepath.Join(n.dir, v.file), []byte("nameserver "+v.resolver.String()+"\n"), 0o644); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("emunet: router: %w", err)
	}
	n.router = ln
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.route(ln)
	}()

	inside := []netip.Prefix{lab.InsidePrefix}
	auth := services.NewAuthority(n.sc.Hosts, lab.AuthoritativeDelay)
	auth.Inside = inside
	bind := binder{n}
	if _, err := services.Start(n.ctx, services.Config{
		Hosts: n.sc.Hosts, Inside: inside, Authority: auth, Bind: bind,
		Certificate: func(h scenario.Host) (tls.Certificate, error) {
			return n.public.HostLeaf(h.Names, h.IPs(), h.Certificate)
		},
	}); err != nil {
		return err
	}
	authAddr := netip.AddrPortFrom(lab.Authoritative, 53).String()
	if _, err := services.StartDNSOn(n.ctx, bind, authAddr, auth); err != nil {
		return err
	}
	resolvers := map[netip.Addr]time.Duration{lab.PublicResolver: lab.ResolverDelay, lab.ISPResolver: lab.ISPResolverDelay(n.sc)}
	for _, h := range n.sc.Hosts {
		if h.OpenResolver() {
			resolvers[h.IP] = lab.ResolverDelay // inside, as the ISP resolver
		}
	}
	for r, delay := range resolvers {
		fwd := &services.Forwarder{Upstream: authAddr, Delay: delay, Dial: n.dialer(r)}
		if _, err := services.StartDNSOn(n.ctx, bind, netip.AddrPortFrom(r, 53).String(), fwd); err != nil {
			return err
		}
	}
	return nil
}

// Close stops every server and flow of the lab.
func (n *Net) Close() error {
	n.cancel()
	if n.router != nil {
		n.router.Close()
	}
	n.mu.Lock()
	for _, pc := range n.udp {
		pc.closeLocked()
	}
	for _, f := range n.flows {
		f.abort()
	}
	n.mu.Unlock()
	n.wg.Wait()
	if n.ownDir {
		os.RemoveAll(n.dir)
	}
	return nil
}

// Listen listens on the lab address addr until the lab closes; the
// connections it accepts carry lab addresses (how Checker runs the control).
func (n *Net) Listen(addr netip.AddrPort) (net.Listener, error) {
	return binder{n}.Listen("tcp", addr.String())
}

// Inside is the network of the probe inside the censored network
// (lab.ProbeAddr): its system resolver is the ISP resolver, and it trusts
// the public CA, and the trusted rogue CA when a tls-mitm rule says
// rogue-trusted (the rogue CA of ca: rogue stays untrusted).
func (n *Net) Inside() *netx.Network {
	roots := n.public.Pool()
	if n.sc.RogueTrusted() {
		roots = roots.Clone()
		roots.AddCert(n.rogueTrusted.Cert)
	}
	return n.vantage(lab.ProbeAddr, roots, "inside-resolv.conf")
}

// Outside is the network of the uncensored vantage where the control runs
// (lab.OutsideAddr): its system resolver is the public one.
func (n *Net) Outside() *netx.Network {
	return n.vantage(lab.OutsideAddr, n.public.Pool(), "outside-resolv.conf")
}

func (n *Net) vantage(src netip.Addr, roots *x509.CertPool, resolv string) *netx.Network {
	routable, _ := netx.ParseRoutable(lab.Routable)
	return &netx.Network{
		DialContext: n.dialer(src),
		ListenPacket: func(ctx context.Context, network, addr string) (net.PacketConn, error) {
			return n.listenPacket(src, network, addr)
		},
		RootCAs:          roots,
		Routable:         routable,
		SystemResolvConf: filepath.Join(n.dir, resolv),
	}
}

// inside reports whether a lies in the censored network.
func inside(a netip.Addr) bool { return lab.InsidePrefix.Contains(a) }

// crosses reports whether traffic from src to dst crosses the censor from
// the inside: the only direction the censor acts on.
func crosses(src, dst netip.Addr) bool { return inside(src) && !inside(dst) }

// unreachable reports whether a packet from src to dst is lost on the
// outside's path: src is the outside vantage and dst a host with
// control: unreachable. It is a fault of the control's side, not the censor.
func (n *Net) unreachable(src, dst netip.Addr) bool {
	if src != lab.OutsideAddr {
		return false
	}
	h, ok := n.sc.HostByIP(dst)
	return ok && h.ControlUnreachable
}

// faultf logs a fault of the outside's path (not the censor's).
func (n *Net) faultf(format string, args ...any) {
	n.logMu.Lock()
	defer n.logMu.Unlock()
	fmt.Fprintf(n.log, "fault: "+format+"\n", args...)
}

func (n *Net) logf(format string, args ...any) {
	n.logMu.Lock()
	defer n.logMu.Unlock()
	fmt.Fprintf(n.log, "censor: "+format+"\n", args...)
}

var errClosed = errors.New("emunet: closed")
