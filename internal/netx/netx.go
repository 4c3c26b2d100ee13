// Package netx is the probe's network seam: how to dial TCP, open UDP sockets,
// which roots to trust and which addresses count as routable. Tests and the lab
// pass their own Network; a nil field means the host's network.
package netx

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/firewatch/firewatch/internal/addrclass"
)

// Network is the explicit network the probe measures through.
type Network struct {
	// DialContext dials TCP; nil means a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// ListenPacket opens UDP sockets for DNS; nil means net.ListenConfig.
	ListenPacket func(ctx context.Context, network, addr string) (net.PacketConn, error)
	// RootCAs are the trust roots; nil means the system's roots.
	RootCAs *x509.CertPool
	// Routable lists prefixes treated as routable although reserved (the lab
	// passes TEST-NET; loopback tests pass 127.0.0.0/8). Every other
	// private/loopback/reserved address in a DNS answer is a bogon.
	Routable []netip.Prefix
	// SystemResolvConf is the resolv.conf used for "system" resolution; ""
	// means /etc/resolv.conf.
	SystemResolvConf string
}

// Dial dials TCP through the network's dialer.
func (n *Network) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if n != nil && n.DialContext != nil {
		return n.DialContext(ctx, network, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// Listen opens a packet socket through the network's ListenPacket.
func (n *Network) Listen(ctx context.Context, network, addr string) (net.PacketConn, error) {
	if n != nil && n.ListenPacket != nil {
		return n.ListenPacket(ctx, network, addr)
	}
	var lc net.ListenConfig
	return lc.ListenPacket(ctx, network, addr)
}

// Roots returns the trust roots: RootCAs, or the system's pool (nil when the
// system has none; x509 then uses the platform verifier).
func (n *Network) Roots() *x509.CertPool {
	if n != nil && n.RootCAs != nil {
		return n.RootCAs
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		return nil
	}
	return pool
}

// ResolvConf returns the path of the system resolver configuration.
func (n *Network) ResolvConf() string {
	if n != nil && n.SystemResolvConf != "" {
		return n.SystemResolvConf
	}
	return "/etc/resolv.conf"
}

// IsBogon reports whether a is a bogon (addrclass.IsBogon: private,
// loopback, reserved, documentation, or an IPv6 spelling of one) not listed
// in Routable. Such an address in a DNS answer is recorded as dns_bogon_error
// and never connected to.
func (n *Network) IsBogon(a netip.Addr) bool {
	a = a.Unmap()
	if n != nil {
		for _, p := range n.Routable {
			if p.Contains(a) {
				return false
			}
		}
	}
	return addrclass.IsBogon(a)
}

// LoadRootCAs reads a PEM file of trust roots.
func LoadRootCAs(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("ca file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("ca file %s: no PEM certificate found", file)
	}
	return pool, nil
}

// ParseRoutable parses a comma-separated list of prefixes (or bare
// addresses), as given in the environment variable FIREWATCH_ROUTABLE.
func ParseRoutable(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("routable prefix %q: %w", f, err)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("routable prefix %q: %w", f, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
