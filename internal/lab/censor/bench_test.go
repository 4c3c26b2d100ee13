package censor

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/lab/nsnet"
	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/google/nftables"
	"github.com/miekg/dns"
)

// TestLabRulesetAccepted checks that the kernel accepts a ruleset using
// every feature (probabilities, throttles, diversions, DNS replace, held
// packets, the drop set of keyword-drop) and holds every rule of it, in a namespace of its own.
func TestLabRulesetAccepted(t *testing.T) {
	labFixture(t)
	const ns = "fwct-rules"
	if err := nsnet.Add(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nsnet.Delete(ns) })
	p5 := 0.5
	ip := netip.MustParseAddr("203.0.113.80")
	plan := nftPlan{
		Inside: "r0", Outside: "r1", MITMPort: 4000, HTTPPort: 4001, HTTPAddrs: []netip.Addr{ip},
		HoldPorts: []uint16{80, 443}, DNSReplace: true, DropFlows: true, MTU: 1500,
		InsidePrefixes: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("192.0.2.0/29")},
		Rules: []scenario.Rule{
			{Kind: "drop", Drop: &scenario.Drop{IPs: []netip.Addr{ip}, Ports: []uint16{993, 995}}, Probability: &p5},
			{Kind: "throttle", Throttle: &scenario.Throttle{IPs: []netip.Addr{ip}, Rate: 4000}, Probability: &p5},
			{Kind: "tls-mitm", TLSMITM: &scenario.TLSMITM{IPs: []netip.Addr{ip}, Ports: []uint16{993}}, Probability: &p5},
		},
	}
	rules := ruleset(plan)
	err := nsnet.Do(ns, func() error {
		if err := nftApply(context.Background(), rules); err != nil {
			return err
		}
		if err := nftApply(context.Background(), rules); err != nil {
			return fmt.Errorf("applied twice: %w", err)
		}
		c, err := nftables.New()
		if err != nil {
			return err
		}
		want := map[string]int{}
		for _, r := range rules {
			want[r.Chain]++
		}
		for chain, n := range want {
			got, err := c.GetRules(censorTable(), &nftables.Chain{Name: chain, Table: censorTable()})
			if err != nil {
				return fmt.Errorf("chain %s: %w", chain, err)
			}
			if len(got) != n {
				return fmt.Errorf("chain %s holds %d rules, want %d", chain, len(got), n)
			}
		}
		return nftDeleteTable()
	})
	if err != nil {
		t.Fatalf("the kernel refused the ruleset: %v\n%s", err, rulesetText(rules))
	}
}

// BenchmarkCensorDNS measures DNS queries per second crossing the censor with
// injection on: half the queries name an injected domain and go to an
// address without a DNS server (only the censor answers them), half are clean
// and answered by a resolver behind the censor.
func BenchmarkCensorDNS(b *testing.B) {
	f := labFixture(b)
	const workers = 64
	cpu0 := f.censorCPU()
	var sent, lost, forged atomic.Int64
	next := atomic.Int64{}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		var pc net.PacketConn
		if err := inNS(nsClient, func() (err error) { pc, err = net.ListenPacket("udp4", "0.0.0.0:0"); return }); err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer pc.Close()
			buf := make([]byte, 1500)
			injected := net.UDPAddrFromAddrPort(netip.MustParseAddrPort("203.0.113.54:53"))
			clean := net.UDPAddrFromAddrPort(netip.MustParseAddrPort("203.0.113.55:53"))
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				var q dns.Msg
				dst := clean
				if i%2 == 0 {
					q.SetQuestion(fmt.Sprintf("q%d.facebook.com.", i), dns.TypeA)
					dst = injected
				} else {
					q.SetQuestion(fmt.Sprintf("q%d.clean.example.", i), dns.TypeA)
				}
				q.Id = uint16(i)
				out, _ := q.Pack()
				sent.Add(1)
				pc.WriteTo(out, dst)
				deadline := time.Now().Add(time.Second)
				for {
					pc.SetReadDeadline(deadline)
					n, _, err := pc.ReadFrom(buf)
					if err != nil {
						if ne, ok := err.(net.Error); ok && ne.Timeout() {
							lost.Add(1)
							break
						}
						continue
					}
					var m dns.Msg
					if m.Unpack(buf[:n]) != nil || m.Id != q.Id {
						continue
					}
					if firstA(&m) == "203.0.113.50" {
						forged.Add(1)
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.ReportMetric(float64(sent.Load())/el.Seconds(), "queries/s")
	b.ReportMetric(float64(lost.Load()), "lost")
	b.ReportMetric(float64(forged.Load()), "forged")
	b.ReportMetric(100*(f.censorCPU()-cpu0).Seconds()/el.Seconds(), "censor-cpu%")
}

// censorCPU returns the CPU time the censor process has used so far.
func (f *fixture) censorCPU() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", f.censor.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0
	}
	var ut, st int64
	fmt.Sscan(fields[11], &ut)
	fmt.Sscan(fields[12], &st)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// BenchmarkCensorTCP measures TCP throughput through the censor, downloads
// (server to client, not sniffed) and uploads (client to port 80: every
// packet reaches the sniffer).
func BenchmarkCensorTCP(b *testing.B) {
	f := labFixture(b)
	hc := clientHTTP()
	const size = 64 << 20
	b.Run("download", func(b *testing.B) {
		b.SetBytes(size)
		start := time.Now()
		for i := 0; i < b.N; i++ {
			resp, err := hc.Get(fmt.Sprintf("http://203.0.113.71/big?n=%d", size))
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if n != size {
				b.Fatalf("got %d bytes", n)
			}
		}
		b.ReportMetric(float64(size*b.N)*8/1e6/time.Since(start).Seconds(), "Mbit/s")
	})
	b.Run("upload", func(b *testing.B) {
		b.SetBytes(size)
		start := time.Now()
		cpu0 := f.censorCPU()
		defer func() {
			b.ReportMetric(100*(f.censorCPU()-cpu0).Seconds()/time.Since(start).Seconds(), "censor-cpu%")
		}()
		for i := 0; i < b.N; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			req, _ := http.NewRequestWithContext(ctx, "POST", "http://203.0.113.71/sink", io.LimitReader(zeros{}, size))
			req.ContentLength = size
			resp, err := hc.Do(req)
			if err != nil {
				cancel()
				b.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			cancel()
			if string(body) != fmt.Sprint(size) {
				b.Fatalf("server got %s bytes", body)
			}
		}
		b.ReportMetric(float64(size*b.N)*8/1e6/time.Since(start).Seconds(), "Mbit/s")
	})
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
