package trace

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/netx"
	"github.com/firewatch/firewatch/internal/probe/probetest"
	"github.com/miekg/dns"
)

// rawOrSkip skips a test that needs raw sockets when the process lacks them.
func rawOrSkip(t *testing.T) {
	t.Helper()
	if err := CheckRaw(); errors.Is(err, ErrNeedRaw) {
		t.Skip("needs root or CAP_NET_RAW: ", err)
	} else if err != nil {
		t.Fatal(err)
	}
}

func TestRawProberOnLoopback(t *testing.T) {
	rawOrSkip(t)
	// a DNS server answering every query
	served := probetest.ServeDNS(t, func(w dns.ResponseWriter, q *dns.Msg) { _ = w.WriteMsg(probetest.Reply(q, "203.0.113.9")) })
	// an HTTP server
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				if _, err := c.Read(buf); err == nil {
					_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
				}
				time.Sleep(200 * time.Millisecond)
			}()
		}
	}()
	dnsAddr := netip.MustParseAddrPort(served)
	httpAddr := netip.MustParseAddrPort(ln.Addr().String())
	n := &netx.Network{}
	ctx := context.Background()

	p, err := NewProber(Exchange{Kind: ExchangeDNS, Server: dnsAddr, Name: "x.example"}, n, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	o := p.Replay(ctx, 1)
	if len(o.Answers) != 1 || !strings.Contains(o.Answers[0].Digest, "203.0.113.9") {
		t.Errorf("dns replay at ttl 1 on loopback: %+v, want one answer with 203.0.113.9", o)
	}
	if o := p.Path(ctx, 1); !o.Reached {
		t.Errorf("path probe on loopback: %+v, want the server reached (port unreachable)", o)
	}
	p.Close()

	p, err = NewProber(Exchange{Kind: ExchangeHTTP, Server: httpAddr, Request: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")}, n, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	o = p.Replay(ctx, 1)
	if len(o.Answers) == 0 || o.Answers[0].Reset || !strings.HasPrefix(o.Answers[0].Summary, "HTTP/1.1 200 OK") {
		t.Errorf("http replay on loopback: %+v, want the 200 answer", o)
	}
	r, err := Locate(ctx, p, Options{Kind: KindAnswer, MaxTTL: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.ServerHops != 1 || r.CensorHop != nil {
		t.Errorf("loopback trace: server %d, censor %v; want 1, none", r.ServerHops, r.CensorHop)
	}
}
