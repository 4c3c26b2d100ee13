package probe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/model"
)

// TestRedirectToIPv6SpellingOfLoopback: a redirect to an IPv6 spelling of a
// loopback or private address (issue 14: IPv4-compatible, NAT64, 6to4,
// Teredo, IPv4-mapped) is recorded and never dialed, although the tests'
// network counts 127.0.0.0/8 as routable.
func TestRedirectToIPv6SpellingOfLoopback(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var dialed []string
	e := newEnv(t, func(c *Config) {
		c.MaxRedirects, c.Timeout = 5, 500*time.Millisecond
		n := *c.Network
		n.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dialed = append(dialed, addr)
			mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
		c.Network = &n
	})
	literals := map[string]string{
		"compat": "::127.0.0.1",
		"nat64":  "64:ff9b::7f00:1",
		"6to4":   "2002:7f00:1::",
		"teredo": "2001:0:808:808::80ff:fffe",
		"mapped": "::ffff:10.0.0.1",
	}
	mux := http.NewServeMux()
	for name, lit := range literals {
		mux.HandleFunc("/"+name, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://["+lit+"]:"+port(r.Host)+"/inside", http.StatusFound)
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p := port(srv.Listener.Addr().String())
	for name, lit := range literals {
		m := e.measure(t, "http://www.site.test:"+p+"/"+name)
		if hh := steps(m, model.OpHTTPRoundTrip); len(hh) != 1 || hh[0].HTTP.Status != http.StatusFound {
			t.Errorf("%s: got %d hops, want the one redirect to %s recorded:\n%s", name, len(hh), lit, dump(m))
		}
	}
	for _, addr := range dialed {
		if ap, err := netip.ParseAddrPort(addr); err != nil || !ap.Addr().Is4() {
			t.Errorf("dialed %s: only the server at 127.0.0.1 may be", addr)
		}
	}
}
