package lab

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/dnsscan"
	"github.com/firewatch/firewatch/internal/netx"
	"github.com/miekg/dns"
)

// outsideNetwork opens sockets in the outside vantage's namespace.
func outsideNetwork() *netx.Network {
	return &netx.Network{ListenPacket: func(ctx context.Context, network, addr string) (net.PacketConn, error) {
		var pc net.PacketConn
		err := InNetns(tn.Outside, func() error {
			var err error
			pc, err = (&net.ListenConfig{}).ListenPacket(ctx, network, addr)
			return err
		})
		return pc, err
	}}
}

// BenchmarkLabScanVia measures `scan dns --via` through the lab's censor
// (testdata/lab.yaml injects facebook.com and the names below it) from the
// outside vantage towards the inside host, which runs no DNS server, side
// by side with a plain concurrent loop of miekg/dns exchanges over the same
// path. 1% of the names are censored; every one must be found and no other.
func BenchmarkLabScanVia(b *testing.B) {
	sharedLab(b)
	via := netip.AddrPortFrom(ProbeAddr, 53)
	const n = 100000
	names := make([]string, n)
	want := map[string]bool{}
	for i := range names {
		names[i] = fmt.Sprintf("site%d.scale.example", i)
		if i%100 == 0 {
			names[i] = fmt.Sprintf("www%d.facebook.com", i)
			want[names[i]] = true
		}
	}
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			i := 0
			next := func() (string, int, error) {
				if i == len(names) {
					return "", 0, io.EOF
				}
				i++
				return names[i-1], i, nil
			}
			got := map[string]bool{}
			var mu sync.Mutex
			sum, err := dnsscan.Scan(context.Background(), dnsscan.Config{Network: outsideNetwork(), Via: []netip.AddrPort{via}, Rate: 0, Timeout: time.Second, NoInfer: true},
				func() (string, int, error) { return next() }, func(r *dnsscan.Record) error {
					if r.Censored() {
						mu.Lock()
						got[r.Domain] = true
						mu.Unlock()
					}
					return nil
				})
			if err != nil {
				b.Fatal(err)
			}
			missed, fp := 0, 0
			for d := range want {
				if !got[d] {
					missed++
				}
			}
			for d := range got {
				if !want[d] {
					fp++
				}
			}
			if missed > 0 || fp > 0 {
				b.Errorf("%d injected answers missed, %d false positives", missed, fp)
			}
			b.ReportMetric(float64(sum.Domains)/sum.Elapsed.Seconds(), "domains/s")
			b.ReportMetric(float64(missed), "missed")
		}
	})
	b.Run("lookup-loop", func(b *testing.B) {
		// Every name that is not censored costs the loop a timeout: the
		// loop gets concurrency/timeout names per second at most. A
		// tenth of the list is enough to measure it.
		sub := names[:n/10]
		for b.Loop() {
			start := time.Now()
			var next, found atomic.Int64
			var wg sync.WaitGroup
			for w := 0; w < 1024; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						j := int(next.Add(1)) - 1
						if j >= len(sub) {
							return
						}
						var conn net.Conn
						if err := InNetns(tn.Outside, func() error {
							var err error
							conn, err = net.Dial("udp", via.String())
							return err
						}); err != nil {
							b.Error(err)
							return
						}
						c := &dns.Client{Timeout: time.Second}
						m := new(dns.Msg)
						m.SetQuestion(dns.Fqdn(sub[j]), dns.TypeA)
						if _, _, err := c.ExchangeWithConn(m, &dns.Conn{Conn: conn}); err == nil && strings.HasSuffix(sub[j], "facebook.com") {
							found.Add(1)
						}
						conn.Close()
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(len(sub))/time.Since(start).Seconds(), "domains/s")
			b.ReportMetric(float64(len(sub)/100-int(found.Load())), "missed")
		}
	})
}
