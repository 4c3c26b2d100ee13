package runner

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/probe"
	"github.com/firewatch/firewatch/internal/probe/probetest"
	"github.com/firewatch/firewatch/internal/target"
)

// BenchmarkRun measures lists of local targets end to end (DNS through a
// local resolver, connect, HTTP, JSONL out) and reports the heap in use at
// the peak and after the run, to show memory stays flat as the list grows.
// Run with -benchtime=1x.
func BenchmarkRun(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("targets=%d", n), func(b *testing.B) { benchRun(b, n) })
	}
}

func benchRun(b *testing.B, n int) {
	dnsSrv := probetest.NewDNSServer(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html><head><title>bench</title></head><body>"+r.URL.Path+"</body></html>")
	}))
	b.Cleanup(srv.Close)
	dir := b.TempDir()
	listPath := filepath.Join(dir, "list.txt")
	f, err := os.Create(listPath)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	_, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "http://site%d.bench.test:%s/page/%d\n", i, p, i)
	}
	w.Flush()
	f.Close()

	pr, err := probe.New(probe.Config{
		Network:         probetest.Network(b, nil, ""),
		Resolvers:       []string{"udp://" + dnsSrv.Addr},
		Timeout:         5 * time.Second,
		InjectionWindow: time.Millisecond,
	})
	if err != nil {
		b.Fatal(err)
	}
	measure := func(ctx context.Context, t target.Target) *model.Measurement {
		return pr.Measure(ctx, t, probe.Extra{})
	}

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		var peak uint64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					if ms.HeapInuse > peak {
						peak = ms.HeapInuse
					}
				}
			}
		}()
		lf, err := os.Open(listPath)
		if err != nil {
			b.Fatal(err)
		}
		sink, err := CreateJSONL(filepath.Join(dir, "out.jsonl"), false)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		sum, err := Run(context.Background(), target.NewListReader(lf, listPath), measure, []Sink{sink}, Options{Concurrency: 32})
		elapsed := time.Since(start)
		lf.Close()
		close(stop)
		wg.Wait()
		if err != nil {
			b.Fatal(err)
		}
		if sum.Measured != n || sum.Failed != 0 {
			b.Fatalf("summary %+v, want %d measured without failures", sum, n)
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(n)/elapsed.Seconds(), "targets/s")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		b.ReportMetric((float64(after.HeapInuse)-float64(before.HeapInuse))/(1<<20), "heap-growth-MiB")
	}
}
