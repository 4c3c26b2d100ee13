package emunet

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/lab/policy"
	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/netx"
)

const script = `<script src="http://ads.example/a.js"></script>`

// TestHTTPProxy: inside, the pages of a host behind a no-rewrite http-proxy
// are those the outside vantage gets, and those behind an injecting one
// carry the script before </body> with a Content-Length that fits; HTTPS
// and the outside are untouched.
func TestHTTPProxy(t *testing.T) {
	sc, err := scenario.Parse("t.yaml", []byte(`name: t
hosts:
  - {names: [plain.example], ip: 203.0.113.10, services: [http, https]}
  - {names: [inj.example], ip: 203.0.113.11, services: [http, https]}
censor:
  - http-proxy: {hosts: [plain.example]}
  - http-proxy: {hosts: [inj.example], inject: '`+script+`'}
`))
	if err != nil {
		t.Fatal(err)
	}
	n := startNet(t, sc)
	ips := map[string]string{"plain.example": "203.0.113.10", "inj.example": "203.0.113.11"}
	client := func(v *netx.Network) *http.Client {
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, _ := net.SplitHostPort(addr)
			return v.DialContext(ctx, network, net.JoinHostPort(ips[host], port))
		}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: v.RootCAs}}}
	}
	in, out := client(n.Inside()), client(n.Outside())
	get := func(t *testing.T, c *http.Client, url string) (string, *http.Response) {
		t.Helper()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: body: %v", url, err)
		}
		if resp.ContentLength >= 0 && resp.ContentLength != int64(len(b)) {
			t.Errorf("GET %s: Content-Length %d for a body of %d bytes", url, resp.ContentLength, len(b))
		}
		return string(b), resp
	}
	cases := []struct {
		name, url string
		injected  bool
	}{
		{"no rewrite", "http://plain.example/", false},
		{"no rewrite, second request on the connection", "http://plain.example/", false},
		{"no rewrite https", "https://plain.example/", false},
		{"inject", "http://inj.example/", true},
		{"inject, second request on the connection", "http://inj.example/", true},
		{"inject spares https", "https://inj.example/", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, _ := get(t, out, c.url)
			if !strings.Contains(strings.ToLower(want), "</body>") {
				t.Fatalf("outside page %q has no </body>", want)
			}
			if c.injected {
				want = string(policy.InjectHTML([]byte(want), script))
			}
			if got, _ := get(t, in, c.url); got != want {
				t.Errorf("inside got %q, want %q", got, want)
			}
		})
	}
}
