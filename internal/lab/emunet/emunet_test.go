package emunet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/lab/scenario"
)

func TestLoopbackAddresses(t *testing.T) {
	for _, c := range []struct{ lab, lo string }{
		{"192.0.2.66", "127.1.2.66"}, {"198.51.100.2", "127.2.100.2"}, {"203.0.113.255", "127.3.113.255"},
	} {
		lo, ok := loopback(netip.MustParseAddr(c.lab))
		if !ok || lo.String() != c.lo {
			t.Errorf("loopback(%s) = %s, %v; want %s", c.lab, lo, ok, c.lo)
		}
		back, ok := fromLoopback(lo)
		if !ok || back.String() != c.lab {
			t.Errorf("fromLoopback(%s) = %s, %v; want %s", lo, back, ok, c.lab)
		}
	}
	for _, a := range []string{"10.0.0.1", "8.8.8.8", "192.0.3.1"} {
		if _, ok := loopback(netip.MustParseAddr(a)); ok {
			t.Errorf("loopback(%s): a non-lab address got a socket address", a)
		}
	}
	if _, ok := fromLoopback(netip.MustParseAddr("127.0.0.1")); ok {
		t.Error("fromLoopback(127.0.0.1) names a lab address")
	}
}

const testScenario = `name: t
hosts:
  - {names: [web.example], ip: 203.0.113.10, services: [http]}
  - {names: [dark.example], ip: 203.0.113.11, services: [http]}
censor:
  - drop: {ips: [203.0.113.11]}
`

// startNet starts sc's emulated network, closed when tb ends.
func startNet(tb testing.TB, sc *scenario.Scenario) *Net {
	tb.Helper()
	n, err := New(sc, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { n.Close() })
	return n
}

func TestConnectionLevel(t *testing.T) {
	sc, err := scenario.Parse("t.yaml", []byte(testScenario))
	if err != nil {
		t.Fatal(err)
	}
	n := startNet(t, sc)
	in, out := n.Inside(), n.Outside()

	// a connect to a dropped address blocks until its deadline, inside only
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := in.Dial(ctx, "tcp", "203.0.113.11:80"); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 150*time.Millisecond {
		t.Errorf("dial of a dropped address: %v after %s, want a timeout at the deadline", err, time.Since(start))
	}
	c, err := out.Dial(context.Background(), "tcp", "203.0.113.11:80")
	if err != nil {
		t.Fatalf("outside, the dropped address answers: %v", err)
	}
	if c.RemoteAddr().String() != "203.0.113.11:80" || c.LocalAddr().(*net.TCPAddr).AddrPort().Addr().String() != "192.0.2.66" {
		t.Errorf("addresses %s -> %s, want the lab's", c.LocalAddr(), c.RemoteAddr())
	}
	c.Close()

	// no service: refused; no host: unreachable
	if _, err := in.Dial(context.Background(), "tcp", "203.0.113.10:443"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial of a closed port: %v, want ECONNREFUSED", err)
	}
	if _, err := in.Dial(context.Background(), "tcp", "203.0.113.99:80"); !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Errorf("dial of no host: %v, want EHOSTUNREACH", err)
	}

	// UDP: a read deadline ends a read; a host without DNS refuses a connected socket
	pc, err := in.Listen(context.Background(), "udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	pc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, _, err := pc.ReadFrom(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past the deadline: %v", err)
	}
	uc, err := in.Dial(context.Background(), "udp", "203.0.113.10:53")
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	uc.SetReadDeadline(time.Now().Add(time.Second))
	uc.Write([]byte("query"))
	if _, err := uc.Read(make([]byte, 10)); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("read after a query to a host without DNS: %v, want ECONNREFUSED", err)
	}
}

// TestControlFaults: a host with control: unreachable is a blackhole from
// the outside vantage only (TCP and UDP), and with control: down nothing
// listens at the control's address (a connect from inside is refused).
func TestControlFaults(t *testing.T) {
	sc, err := scenario.Parse("t.yaml", []byte(`name: t
hosts:
  - {names: [far.example], ip: 203.0.113.12, services: [http, dns], control: unreachable}
  - {names: [web.example], ip: 203.0.113.10, services: [http]}
`))
	if err != nil {
		t.Fatal(err)
	}
	n := startNet(t, sc)
	in, out := n.Inside(), n.Outside()
	for _, c := range []struct {
		name    string
		dial    func(context.Context, string, string) (net.Conn, error)
		addr    string
		blocked bool
	}{
		{"outside to the unreachable host", out.DialContext, "203.0.113.12:80", true},
		{"inside to the unreachable host", in.DialContext, "203.0.113.12:80", false},
		{"outside to another host", out.DialContext, "203.0.113.10:80", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			conn, err := c.dial(ctx, "tcp", c.addr)
			if c.blocked {
				if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 150*time.Millisecond {
					t.Errorf("got %v after %s, want a timeout at the deadline", err, time.Since(start))
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want a connection", err)
			}
			conn.Close()
		})
	}
	// UDP from outside is lost: no answer, not even a refusal.
	uc, err := out.DialContext(context.Background(), "udp", "203.0.113.12:53")
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	uc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	uc.Write([]byte("query"))
	if _, err := uc.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read after a query from outside to the unreachable host: %v, want no answer", err)
	}

	down, err := scenario.Parse("t.yaml", []byte("name: t\ncontrol: down\nhosts:\n  - {names: [web.example], ip: 203.0.113.10, services: [http]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	dn, err := New(down, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dn.Close()
	if _, err := dn.Checker(CheckOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := dn.Inside().DialContext(context.Background(), "tcp", ControlAddr.String()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial of the control with control: down: %v, want ECONNREFUSED", err)
	}
}
