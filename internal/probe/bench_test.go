package probe

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/target"
)

// BenchmarkMeasureHTTP measures one http:// target on loopback per op: DNS
// (A and AAAA over UDP, 1 ms injection window), connect, one GET.
func BenchmarkMeasureHTTP(b *testing.B) {
	benchMeasure(b)
}

// BenchmarkTitle extracts the title of a 4 KB head.
func BenchmarkTitle(b *testing.B) {
	doc := []byte("<html><head><meta charset=utf-8><TITLE>  Some &amp; page  </TITLE></head><body>" + string(make([]byte, 4000)))
	b.ReportAllocs()
	for b.Loop() {
		Title(doc)
	}
}

func benchMeasure(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<title>b</title>") }))
	b.Cleanup(srv.Close)
	p := benchProbe(b)
	ts, err := target.Parse("http://www.site.test:" + port(srv.Listener.Addr().String()) + "/")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m := p.Measure(b.Context(), ts[0], Extra{})
		if m.Steps[len(m.Steps)-1].Failure != nil {
			b.Fatal(dump(m))
		}
	}
}

func benchProbe(b *testing.B) *Probe {
	b.Helper()
	dnsSrv := newBenchDNS(b)
	p, err := New(Config{Network: benchNetwork(b), Resolvers: []string{"udp://" + dnsSrv}, Timeout: 5 * time.Second, InjectionWindow: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	return p
}
