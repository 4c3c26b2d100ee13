package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/probe/probetest"
)

// BenchmarkRunRSS runs the `firewatch run` binary over generated lists of
// local targets (each a distinct name resolved through a local UDP DNS
// server, fetched from a local HTTP server, written to JSONL) and reports
// the process's peak RSS: it must not grow with the list. Sizes 1,000 and
// 10,000; with FIREWATCH_BIG_BENCH=1, 10,000 and 100,000. Run with
// -benchtime=1x.
func BenchmarkRunRSS(b *testing.B) {
	sizes := []int{1000, 10000}
	if os.Getenv("FIREWATCH_BIG_BENCH") == "1" {
		sizes = []int{10000, 100000}
	}
	bin := buildFirewatch(b)
	dnsSrv := probetest.NewDNSServer(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html><head><title>bench</title></head><body>"+r.URL.Path+"</body></html>")
	}))
	b.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, n := range sizes {
		b.Run(fmt.Sprintf("targets=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			list := filepath.Join(dir, "list.txt")
			f, err := os.Create(list)
			if err != nil {
				b.Fatal(err)
			}
			w := bufio.NewWriter(f)
			for i := 0; i < n; i++ {
				fmt.Fprintf(w, "http://site%d.bench.test:%s/page/%d\n", i, port, i)
			}
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
			f.Close()
			for b.Loop() {
				cmd := exec.Command(bin, "run", "--list", list, "--out", filepath.Join(dir, "out.jsonl"), "--no-progress",
					"--resolver", "udp://"+dnsSrv.Addr, "--dns-window", "1ms", "--timeout", "5s")
				cmd.Env = append(os.Environ(), "FIREWATCH_ROUTABLE=127.0.0.0/8", "FIREWATCH_CONTROL=")
				start := time.Now()
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("firewatch run: %v\n%s", err, out)
				}
				elapsed := time.Since(start)
				ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
				b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
				b.ReportMetric(float64(n)/elapsed.Seconds(), "targets/s")
			}
		})
	}
}

// buildFirewatch returns $FIREWATCH_BIN or builds cmd/firewatch.
func buildFirewatch(b *testing.B) string {
	b.Helper()
	if bin := os.Getenv("FIREWATCH_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(b.TempDir(), "firewatch")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
