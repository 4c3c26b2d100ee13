package censor

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/firewatch/firewatch/internal/lab/policy"
	"github.com/firewatch/firewatch/internal/lab/scenario"
)

// maxInjectBody bounds the page an injecting http-proxy reads to rewrite.
const maxInjectBody = 32 << 20

// httpIdle is how long the HTTP proxy waits for a client's next request.
const httpIdle = 30 * time.Second

// recorder remembers every byte read through it until off is set.
type recorder struct {
	r   io.Reader
	buf bytes.Buffer
	off bool
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if !r.off {
		r.buf.Write(p[:n])
	}
	return n, err
}

// HTTP handles a plain HTTP connection to dst diverted for http-redirect,
// http-blockpage and http-proxy rules: it answers for matching hosts
// (and resets on the keywords of reset rules), carries the requests of
// http-proxy hosts through a proxy of its own, and relays the rest.
func (x *Proxies) HTTP(c net.Conn, dst netip.AddrPort) {
	defer c.Close()
	rec := &recorder{r: c}
	br := bufio.NewReaderSize(rec, 16384)
	up := &upstream{x: x, dst: dst}
	defer up.close()
	for first := true; ; first = false {
		c.SetReadDeadline(time.Now().Add(httpIdle))
		req, err := http.ReadRequest(br)
		c.SetReadDeadline(time.Time{})
		if err != nil {
			return
		}
		host := strings.ToLower(req.Host)
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(host, ".")
		// keyword resets apply to diverted connections too
		line := strings.ToLower(req.Method + " " + req.RequestURI + " " + req.Proto)
		if m, ok := x.Policy.ResetHTTP(line, host, x.roll); ok {
			x.logf("reset %q in http (proxy) -> %s", m.Keyword, dst)
			resetConn(c)
			return
		}
		if resp, r := x.Policy.AnswerHTTP(host, x.roll); r != nil {
			if r.HTTPRedirect != nil {
				x.logf("http-redirect %s -> %s", host, r.HTTPRedirect.To)
			} else {
				x.logf("http-blockpage %s status %d", host, r.HTTPBlockpage.Status)
			}
			c.Write(resp)
			return
		}
		// Once the proxy has carried a request, the connection's later
		// requests go through it too, rewritten only for http-proxy hosts.
		if r := x.Policy.ProxyHTTP(host, x.roll); r != nil || !first {
			rec.off = true
			if !x.proxyHTTP(c, req, host, r, up) {
				return
			}
			continue
		}
		conn, err := x.dial(dst)
		if err != nil {
			resetConn(c)
			return
		}
		if _, err := conn.Write(rec.buf.Bytes()); err != nil {
			conn.Close()
			return
		}
		relay(c, conn)
		return
	}
}

// upstream is the HTTP proxy's own connection to the server, kept open
// between requests while the server allows.
type upstream struct {
	x    *Proxies
	dst  netip.AddrPort
	conn net.Conn
	br   *bufio.Reader
	used bool // a response came back on conn
}

func (u *upstream) close() {
	if u.conn != nil {
		u.conn.Close()
		u.conn, u.br, u.used = nil, nil, false
	}
}

// roundTrip sends req to the server and reads the response head, once more
// on a new connection when a kept-alive one turns out closed.
func (u *upstream) roundTrip(req *http.Request) (*http.Response, error) {
	for try := 0; ; try++ {
		if u.conn == nil {
			conn, err := u.x.dial(u.dst)
			if err != nil {
				return nil, err
			}
			u.conn, u.br = conn, bufio.NewReader(conn)
		}
		reused := u.used
		u.conn.SetDeadline(time.Now().Add(httpIdle))
		err := req.Write(u.conn)
		var resp *http.Response
		if err == nil {
			resp, err = http.ReadResponse(u.br, req)
		}
		if err == nil {
			u.used = true
			return resp, nil
		}
		u.close()
		idempotent := req.ContentLength == 0 && (req.Method == http.MethodGet || req.Method == http.MethodHead)
		if !reused || try > 0 || !idempotent || !(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)) {
			return nil, err
		}
	}
}

// proxyHTTP carries one request through the proxy's own connection to the
// server and relays the response, with the rule's snippet injected into an
// HTML page (r nil: unchanged). It reports whether the client's connection
// may carry another request.
func (x *Proxies) proxyHTTP(c net.Conn, req *http.Request, host string, r *scenario.Rule, up *upstream) bool {
	inject := ""
	if r != nil {
		inject = r.HTTPProxy.Inject
	}
	if inject != "" {
		req.Header.Del("Accept-Encoding") // a page the proxy can read
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header["User-Agent"] = []string{""} // Request.Write adds none then
	}
	resp, err := up.roundTrip(req)
	if err != nil {
		x.logf("http-proxy %s: %v", host, err)
		resetConn(c)
		return false
	}
	defer resp.Body.Close()
	if inject != "" && req.Method != http.MethodHead && resp.ContentLength != 0 &&
		resp.Header.Get("Content-Encoding") == "" && mayBeHTML(resp.Header.Get("Content-Type")) {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxInjectBody+1))
		if err != nil || len(body) > maxInjectBody {
			x.logf("http-proxy %s: reading the page: %v (%d bytes)", host, err, len(body))
			resetConn(c)
			return false
		}
		if policy.IsHTML(resp.Header.Get("Content-Type"), body) {
			body = policy.InjectHTML(body, inject)
			x.logf("http-proxy %s%s: injected %d bytes", host, req.URL.Path, len(inject))
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.TransferEncoding = nil
	} else if r != nil {
		x.logf("http-proxy %s%s: relayed", host, req.URL.Path)
	}
	c.SetWriteDeadline(time.Now().Add(httpIdle))
	err = resp.Write(c)
	c.SetWriteDeadline(time.Time{})
	if resp.Close {
		up.close()
	}
	return err == nil && !resp.Close && !req.Close
}

// mayBeHTML reports whether a response of this Content-Type may be a page
// to inject into (a missing type is sniffed from the body).
func mayBeHTML(contentType string) bool {
	return contentType == "" || policy.IsHTML(contentType, nil)
}
