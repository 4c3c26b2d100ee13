package dnsscan

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeDNS is a loopback UDP server standing in for a censor (it answers
// only the names its answer function returns something for) or a
// resolver. It can also send garbage to every client first.
type fakeDNS struct {
	addr    netip.AddrPort
	conn    *net.UDPConn
	queries atomic.Int64
	wg      sync.WaitGroup
}

// answerFunc returns the responses to send for a question (none: silence).
type answerFunc func(name string, qtype uint16) []*dns.Msg

func startFake(t *testing.T, answer answerFunc, garbage int) *fakeDNS {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDNS{addr: c.LocalAddr().(*net.UDPAddr).AddrPort(), conn: c}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) != nil || len(q.Question) != 1 {
				continue
			}
			f.queries.Add(1)
			for i := 0; i < garbage; i++ {
				c.WriteToUDPAddrPort([]byte("\x00\x01garbage that is not DNS at all"), from)
				wrong := new(dns.Msg)
				wrong.SetReply(q)
				wrong.Id = q.Id + 1 + uint16(i) // no such query in flight, or another one
				wrong.Question[0].Name = "other.example."
				if b, err := wrong.Pack(); err == nil {
					c.WriteToUDPAddrPort(b, from)
				}
			}
			name := strings.TrimSuffix(strings.ToLower(q.Question[0].Name), ".")
			for _, r := range answer(name, q.Question[0].Qtype) {
				r.SetReply(q)
				if b, err := r.Pack(); err == nil {
					c.WriteToUDPAddrPort(b, from)
				}
			}
		}
	}()
	t.Cleanup(func() { c.Close(); f.wg.Wait() })
	return f
}

// rules is a censor's rule set in the lab's syntax: name (exact),
// *.name (the name and its subdomains), ~keyword (substring).
func matches(rules []string, name string) bool {
	for _, r := range rules {
		switch {
		case strings.HasPrefix(r, "*."):
			base := r[2:]
			if name == base || strings.HasSuffix(name, "."+base) {
				return true
			}
		case strings.HasPrefix(r, "~"):
			if strings.Contains(name, r[1:]) {
				return true
			}
		case name == r:
			return true
		}
	}
	return false
}

// forger answers names matching rules with copies forged responses, one
// address each, drawn from pool in turn, and stays silent otherwise.
func forger(rules []string, pool []string, copies int) answerFunc {
	var mu sync.Mutex
	next := 0
	return func(name string, qtype uint16) []*dns.Msg {
		if !matches(rules, name) {
			return nil
		}
		var out []*dns.Msg
		for i := 0; i < copies; i++ {
			mu.Lock()
			ip := pool[next%len(pool)]
			next++
			mu.Unlock()
			m := new(dns.Msg)
			if qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip)})
			}
			out = append(out, m)
		}
		return out
	}
}

func addrAnswer(name string, ips ...string) *dns.Msg {
	m := new(dns.Msg)
	for _, ip := range ips {
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: net.ParseIP(ip)})
	}
	return m
}

// listOf returns a Domains function over names.
func listOf(names ...string) Domains {
	i := 0
	return func() (string, int, error) {
		if i == len(names) {
			return "", 0, io.EOF
		}
		i++
		return names[i-1], i, nil
	}
}

// collect runs a scan and returns its records by domain/qtype/server.
func collect(t *testing.T, ctx context.Context, cfg Config, next Domains) (map[string]*Record, Summary, error) {
	t.Helper()
	got := map[string]*Record{}
	var mu sync.Mutex
	sum, err := Scan(ctx, cfg, next, func(r *Record) error {
		mu.Lock()
		defer mu.Unlock()
		key := r.Domain + "/" + r.QType
		if r.Method == MethodResolver {
			key += "@" + r.Server
		}
		if got[key] != nil {
			t.Errorf("record %s written twice", key)
		}
		got[key] = r
		return nil
	})
	return got, sum, err
}

func quickConfig() Config {
	return Config{Rate: 0, Timeout: time.Second, Sockets: 2}
}
