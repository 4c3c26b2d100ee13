package services

import (
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/firewatch/firewatch/internal/lab/scenario"
)

// recorder is a dns.ResponseWriter that keeps the reply.
type recorder struct {
	dns.ResponseWriter
	from net.Addr
	msg  *dns.Msg
}

func (r *recorder) RemoteAddr() net.Addr      { return r.from }
func (r *recorder) WriteMsg(m *dns.Msg) error { r.msg = m; return nil }

func TestAuthorityInsideEdge(t *testing.T) {
	hosts := []scenario.Host{
		{Names: []string{"cdn.example"}, IP: netip.MustParseAddr("203.0.113.120"),
			Inside: &scenario.InsideBehavior{IP: netip.MustParseAddr("203.0.113.121")}},
		{Names: []string{"plain.example"}, IP: netip.MustParseAddr("203.0.113.1")},
	}
	a := NewAuthority(hosts, 0)
	a.Inside = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/29")}
	for _, c := range []struct {
		name string
		from net.Addr
		want string
	}{
		{"cdn.example.", &net.UDPAddr{IP: net.ParseIP("198.51.100.3"), Port: 5353}, "203.0.113.121"},
		{"cdn.example.", &net.TCPAddr{IP: net.ParseIP("198.51.100.3"), Port: 5353}, "203.0.113.121"},
		{"cdn.example.", &net.UDPAddr{IP: net.ParseIP("192.0.2.53"), Port: 5353}, "203.0.113.120"},
		{"plain.example.", &net.UDPAddr{IP: net.ParseIP("198.51.100.3"), Port: 5353}, "203.0.113.1"},
	} {
		q := new(dns.Msg)
		q.SetQuestion(c.name, dns.TypeA)
		w := &recorder{from: c.from}
		a.ServeDNS(w, q)
		if w.msg == nil || len(w.msg.Answer) != 1 || w.msg.Answer[0].(*dns.A).A.String() != c.want {
			t.Errorf("%s from %v: %v, want %s", c.name, c.from, w.msg, c.want)
		}
	}
	q := new(dns.Msg)
	q.SetQuestion("cdn.example.", dns.TypeA)
	if r := a.Answer(q); r.Answer[0].(*dns.A).A.String() != "203.0.113.120" {
		t.Errorf("Answer: %v", r.Answer)
	}
}
