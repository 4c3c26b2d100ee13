package censor

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/lab/policy"
	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/probe/probetest"
)

// rawServer answers each request on loopback with the raw response resp
// returns for its path, closing the connection after close-delimited ones,
// and records the requests' headers.
type rawServer struct {
	ln   net.Listener
	mu   sync.Mutex
	seen []http.Header
}

func startRawServer(t *testing.T, resp func(path string) (raw string, closeAfter bool)) *rawServer {
	t.Helper()
	ln := probetest.Listen(t)
	s := &rawServer{ln: ln}
	probetest.Serve(ln, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.seen = append(s.seen, req.Header.Clone())
			s.mu.Unlock()
			raw, closeAfter := resp(req.URL.Path)
			if req.Method == http.MethodHead { // the head only
				raw = raw[:strings.Index(raw, "\r\n\r\n")+4]
			}
			io.WriteString(c, raw)
			if closeAfter {
				return
			}
		}
	})
	return s
}

// TestHTTPProxyFraming sends requests through the http-proxy of a
// no-rewrite and an injecting rule to a server answering with every body
// framing: the page comes back whole, unchanged or with the script before
// </body>, with a Content-Length that fits.
func TestHTTPProxyFraming(t *testing.T) {
	const snippet = "<script>x()</script>"
	page := "<html><body><p>hello</p></body></html>"
	chunked := func(ct string) string {
		return "HTTP/1.1 200 OK\r\nContent-Type: " + ct + "\r\nTransfer-Encoding: chunked\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", 12, page[:12], len(page)-12, page[12:])
	}
	responses := map[string]struct {
		raw        string
		closeAfter bool
	}{
		"/length":  {fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s", len(page), page), false},
		"/chunked": {chunked("text/html"), false},
		"/close":   {"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n" + page, true},
		"/sniffed": {fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(page), page), false},
		"/nobody":  {"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 12\r\n\r\n<p>frag</p>\n", false},
		"/plain":   {chunked("text/plain"), false},
		"/gzip":    {fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s", len(page), page), false},
		"/404":     {fmt.Sprintf("HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s", len(page), page), false},
	}
	srv := startRawServer(t, func(path string) (string, bool) {
		r := responses[path]
		return r.raw, r.closeAfter
	})
	sc, err := scenario.Parse("t.yaml", []byte(`name: t
hosts:
  - {names: [plain.example], ip: 203.0.113.10, services: [http]}
  - {names: [inj.example], ip: 203.0.113.11, services: [http]}
censor:
  - http-proxy: {hosts: [plain.example]}
  - http-proxy: {hosts: [inj.example], inject: "`+snippet+`"}
`))
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.New(sc.Censor, sc.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	x := &Proxies{Policy: pol,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, srv.ln.Addr().String())
		},
		Logf: t.Logf,
	}
	front, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer front.Close()
	go func() {
		for {
			c, err := front.Accept()
			if err != nil {
				return
			}
			go x.HTTP(c, netip.MustParseAddrPort("203.0.113.10:80"))
		}
	}()

	inj := func(s string) string { return string(policy.InjectHTML([]byte(s), snippet)) }
	cases := []struct {
		host, method, path, want string
	}{
		{"plain.example", "GET", "/length", page},
		{"plain.example", "GET", "/chunked", page},
		{"plain.example", "GET", "/close", page},
		{"plain.example", "HEAD", "/length", ""},
		{"inj.example", "GET", "/length", inj(page)},
		{"inj.example", "GET", "/chunked", inj(page)},
		{"inj.example", "GET", "/close", inj(page)},
		{"inj.example", "GET", "/sniffed", inj(page)},
		{"inj.example", "GET", "/nobody", "<p>frag</p>\n" + snippet},
		{"inj.example", "GET", "/404", inj(page)},
		{"inj.example", "GET", "/plain", page},
		{"inj.example", "GET", "/gzip", page},
		{"inj.example", "HEAD", "/length", ""},
	}
	for _, c := range cases {
		t.Run(c.host+" "+c.method+" "+c.path, func(t *testing.T) {
			conn, err := net.Dial("tcp4", front.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(conn)
			// twice on one connection, unless the server closes it
			for i := 0; i < 2; i++ {
				fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: t\r\nAccept-Encoding: gzip\r\n\r\n", c.method, c.path, c.host)
				resp, err := http.ReadResponse(br, &http.Request{Method: c.method})
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatalf("request %d: body: %v", i, err)
				}
				if string(b) != c.want {
					t.Errorf("request %d: got body %q, want %q", i, b, c.want)
				}
				if c.method == "GET" && resp.ContentLength >= 0 && resp.ContentLength != int64(len(b)) {
					t.Errorf("request %d: Content-Length %d for %d bytes", i, resp.ContentLength, len(b))
				}
				if resp.Close {
					break
				}
			}
		})
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for i, h := range srv.seen {
		if h.Get("User-Agent") != "t" {
			t.Errorf("request %d reached the server with User-Agent %q, want the client's", i, h.Get("User-Agent"))
		}
	}
	if n := len(srv.seen); n < len(cases) {
		t.Errorf("the server saw %d requests, want at least %d", n, len(cases))
	}
	var plainGzip, injGzip int
	for _, h := range srv.seen {
		if h.Get("Accept-Encoding") == "gzip" {
			plainGzip++
		} else {
			injGzip++
		}
	}
	if plainGzip == 0 || injGzip == 0 {
		t.Errorf("Accept-Encoding: %d requests kept it, %d lost it; want the no-rewrite proxy to keep it and the injecting one to drop it", plainGzip, injGzip)
	}
}
