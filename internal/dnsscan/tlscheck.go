package dnsscan

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/firewatch/firewatch/internal/netx"
)

// maxTLSCache bounds the addresses whose certificates are remembered.
const maxTLSCache = 1 << 16

// tlsChecker tells whether an address presents a valid certificate for a
// name: one handshake per address (bounded concurrency), its chain cached
// and verified for every name asked about it.
type tlsChecker struct {
	network *netx.Network
	roots   *x509.CertPool
	sem     chan struct{}
	timeout time.Duration

	mu    sync.Mutex
	cache map[netip.Addr]*certEntry
}

type certEntry struct {
	ready chan struct{}
	chain []*x509.Certificate // nil: no TLS on port 443
}

func newTLSChecker(n *netx.Network, concurrency int, timeout time.Duration) *tlsChecker {
	if concurrency <= 0 {
		concurrency = 16
	}
	return &tlsChecker{network: n, roots: n.Roots(), sem: make(chan struct{}, concurrency), timeout: timeout, cache: map[netip.Addr]*certEntry{}}
}

// valid reports whether ip:443 presents a certificate chain valid for name.
func (c *tlsChecker) valid(ctx context.Context, ip netip.Addr, name string) bool {
	c.mu.Lock()
	e := c.cache[ip]
	owner := false
	if e == nil {
		e = &certEntry{ready: make(chan struct{})}
		if len(c.cache) < maxTLSCache {
			c.cache[ip] = e
		}
		owner = true
	}
	c.mu.Unlock()
	if owner {
		e.chain = c.fetch(ctx, ip, name)
		close(e.ready)
	} else {
		<-e.ready
	}
	if len(e.chain) == 0 {
		return false
	}
	inter := x509.NewCertPool()
	for _, cert := range e.chain[1:] {
		inter.AddCert(cert)
	}
	_, err := e.chain[0].Verify(x509.VerifyOptions{DNSName: name, Roots: c.roots, Intermediates: inter})
	return err == nil
}

func (c *tlsChecker) fetch(ctx context.Context, ip netip.Addr, sni string) []*x509.Certificate {
	c.sem <- struct{}{}
	defer func() { <-c.sem }()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	raw, err := c.network.Dial(ctx, "tcp", net.JoinHostPort(ip.String(), "443"))
	if err != nil {
		return nil
	}
	defer raw.Close()
	// The chain is verified afterwards, for each name asked about.
	tc := tls.Client(raw, &tls.Config{ServerName: sni, InsecureSkipVerify: true}) //nolint:gosec
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil
	}
	return tc.ConnectionState().PeerCertificates
}
