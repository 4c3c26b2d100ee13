package dnsscan

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// responder is a fast loopback DNS server: it answers every query (an A
// record, or a forged-looking one for every 100th name) from a few
// goroutines on one socket. Both the scan and the plain lookup loop are
// measured against it, so neither is held up by timeouts.
func responder(b *testing.B, silentExcept func(name string) bool) netip.AddrPort {
	b.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	growReadBuffer(c, 16<<20)
	c.SetWriteBuffer(8 << 20)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1500)
			out := make([]byte, 0, 1500)
			var q dns.Msg
			for {
				n, from, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				if q.Unpack(buf[:n]) != nil || len(q.Question) != 1 {
					continue
				}
				if silentExcept != nil && !silentExcept(q.Question[0].Name) {
					continue
				}
				r := new(dns.Msg)
				r.SetReply(&q)
				r.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(203, 0, 113, byte(len(q.Question[0].Name)))}}
				if wire, err := r.PackBuffer(out); err == nil {
					c.WriteToUDPAddrPort(wire, from)
				}
			}
		}()
	}
	b.Cleanup(func() { c.Close(); wg.Wait() })
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

func benchNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("site%d.bench.example", i)
	}
	return names
}

const benchDomains = 20000

// BenchmarkScan is the scan against a server that answers every name
// (the resolver method's load: one response per query).
func BenchmarkScan(b *testing.B) {
	srv := responder(b, nil)
	names := benchNames(benchDomains)
	cfg := Config{Via: []netip.AddrPort{srv}, Rate: 0, Timeout: time.Second, NoInfer: true}
	var total time.Duration
	lost := 0
	for i := 0; i < b.N; i++ {
		n := 0
		answered := 0
		sum, err := scanWithoutPrecheck(cfg, listOf(names...), func(r *Record) error {
			n++
			if len(r.Responses) > 0 {
				answered++
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if n != len(names) {
			b.Fatalf("%d records, want %d", n, len(names))
		}
		lost += len(names) - answered
		// The last window's timeout is not the scan's work.
		total += sum.Elapsed - cfg.Timeout
	}
	b.ReportMetric(float64(benchDomains*b.N)/total.Seconds(), "domains/s")
	b.ReportMetric(float64(lost)/float64(b.N), "unanswered/op")
}

// scanWithoutPrecheck scans with a via server that answers everything (for
// the benchmark): the via check is skipped by going through the resolver-
// less path of Scan with a server list the check does not refuse.
func scanWithoutPrecheck(cfg Config, next Domains, emit func(*Record) error) (Summary, error) {
	cfg.skipViaCheck = true
	return Scan(context.Background(), cfg, next, emit)
}

// BenchmarkLookupLoop resolves the same list with a plain concurrent loop
// of miekg/dns client exchanges, at several concurrencies.
func BenchmarkLookupLoop(b *testing.B) {
	srv := responder(b, nil)
	names := benchNames(benchDomains)
	for _, conc := range []int{16, 64, 256, 1024} {
		b.Run("concurrency="+strconv.Itoa(conc), func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				start := time.Now()
				var next, answered atomic.Int64
				var wg sync.WaitGroup
				for w := 0; w < conc; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						c := &dns.Client{Net: "udp", Timeout: time.Second}
						for {
							j := int(next.Add(1)) - 1
							if j >= len(names) {
								return
							}
							m := new(dns.Msg)
							m.SetQuestion(dns.Fqdn(names[j]), dns.TypeA)
							if r, _, err := c.Exchange(m, srv.String()); err == nil && len(r.Answer) > 0 {
								answered.Add(1)
							}
						}
					}()
				}
				wg.Wait()
				total += time.Since(start)
				if answered.Load() < int64(len(names)*99/100) {
					b.Fatalf("%d answered of %d", answered.Load(), len(names))
				}
			}
			b.ReportMetric(float64(benchDomains*b.N)/total.Seconds(), "domains/s")
		})
	}
}

// BenchmarkScanMemory scans a generated list at 20,000 queries/s against a
// forger that answers 1% of the names (the via method, with rule
// inference), sampling the heap: what is in flight depends on the rate and
// the timeout, so the peak must not depend on the list's length;
// run each size in its own process to compare peak RSS (VmHWM):
//
//	go test -run '^$' -bench 'ScanMemory/100000' -benchtime 1x ./internal/dnsscan/
//	FIREWATCH_BIG_BENCH=1 go test -run '^$' -bench 'ScanMemory/1000000' -benchtime 1x ./internal/dnsscan/
func BenchmarkScanMemory(b *testing.B) {
	sizes := []int{100000}
	if os.Getenv("FIREWATCH_BIG_BENCH") != "" {
		sizes = append(sizes, 1000000)
	}
	for _, n := range sizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			srv := responder(b, func(name string) bool { return strings.Contains(name, "00.") })
			for i := 0; i < b.N; i++ {
				j := 0
				next := func() (string, int, error) {
					if j == n {
						return "", 0, io.EOF
					}
					j++
					return "site" + strconv.Itoa(j) + ".bench.example", j, nil
				}
				var peak atomic.Uint64
				stop := make(chan struct{})
				go func() {
					var ms runtime.MemStats
					t := time.NewTicker(50 * time.Millisecond)
					defer t.Stop()
					for {
						select {
						case <-stop:
							return
						case <-t.C:
							runtime.ReadMemStats(&ms)
							if ms.HeapInuse > peak.Load() {
								peak.Store(ms.HeapInuse)
							}
						}
					}
				}()
				cfg := Config{Via: []netip.AddrPort{srv}, Rate: 20000, Timeout: 500 * time.Millisecond}
				censored := 0
				sum, err := scanWithoutPrecheck(cfg, next, func(r *Record) error {
					if r.Censored() {
						censored++
					}
					return nil
				})
				close(stop)
				if err != nil {
					b.Fatal(err)
				}
				if censored != n/100 {
					b.Errorf("%d censored, want %d", censored, n/100)
				}
				b.ReportMetric(float64(sum.Domains)/sum.Elapsed.Seconds(), "domains/s")
				b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
				b.ReportMetric(float64(vmHWM())/(1<<10), "peak-RSS-MiB")
			}
		})
	}
}

// vmHWM returns the process's peak resident set size in kB (Linux).
func vmHWM() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
