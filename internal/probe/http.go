package probe

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/target"
)

// bodyHeadBytes is how much of a body is kept in the record.
const bodyHeadBytes = model.MaxBodyHead

// recordedHeaders are the response headers kept in the record.
var recordedHeaders = []string{"Server", "Content-Type", "Content-Length", "Content-Encoding", "Via", "X-Powered-By", "X-Cache", "Cache-Control", "Alt-Svc"}

// userAgent is sent with every request: a common browser's, so that the
// probe sees what a person would.
const userAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"

// web fetches t following redirects itself: one http_round_trip step per hop,
// resolving and connecting anew (recorded) for a hop to another endpoint.
// Then, when the final URL names a file, it records a download.
func (p *Probe) web(ctx context.Context, rec *recorder, dc *dnsCache, t target.Target, eps []endpoint) {
	conn, addr := firstUsable(eps, t.Scheme == "https")
	if conn == nil {
		return
	}
	dc.worked(t.Host, addr)
	u := t.URL
	for hop := 0; ; hop++ {
		step, loc := p.roundTrip(ctx, conn, u, hop, p.cfg.MaxBodyBytes)
		conn.Close()
		if loc == nil {
			rec.add(step)
			if step.Failure == nil && step.HTTP.Status == http.StatusOK && looksLikeFile(u) {
				p.download(ctx, rec, dc, u)
			}
			return
		}
		if hop >= p.cfg.MaxRedirects {
			f := failure.HTTPTooManyRedirects
			step.Failure = &f
			rec.add(step)
			return
		}
		if why := p.refuseRedirect(loc, t); why != "" {
			step.HTTP.NotFollowed = why
			rec.add(step)
			return
		}
		rec.add(step)
		u = loc
		var f string
		if conn, f = p.dialURL(ctx, rec, dc, u); conn == nil {
			rec.add(unreached(hop+1, u, f))
			return
		}
	}
}

// unreached is the http_round_trip step of a hop whose host could not be
// reached (DNS, connect or TLS failed): the request was never sent, so the
// step has no address, and its failure is the one that stopped the hop.
// Without it the chain would end at the redirect, as if it had worked.
func unreached(hop int, u *url.URL, f string) model.Step {
	step := newStep(model.OpHTTPRoundTrip, "", u.Hostname())
	step.HTTP = &model.HTTPData{Hop: hop, URL: u.String(), Method: http.MethodGet}
	step.Failure = &f
	return step
}

// refuseRedirect says why the redirect to loc is not followed, or "": a
// literal bogon address (a redirect to a private block page, say) is never
// connected to, unless it is the very address the user chose as the target
// (a redirect within http://127.0.0.1:PORT/ is followed).
func (p *Probe) refuseRedirect(loc *url.URL, t target.Target) string {
	a, err := netip.ParseAddr(strings.ToLower(loc.Hostname()))
	if err != nil || !p.net.IsBogon(a) {
		return ""
	}
	if chosen, err := netip.ParseAddr(t.Host); err == nil && chosen.Unmap() == a.Unmap() {
		return ""
	}
	return fmt.Sprintf("redirect to %s, a private, reserved or unroutable address: never connected to", a)
}

// dialURL resolves (when new) and connects to u's host, recording the steps.
// When no connection results it returns the failure that stopped it.
func (p *Probe) dialURL(ctx context.Context, rec *recorder, dc *dnsCache, u *url.URL) (net.Conn, string) {
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		port = strconv.Itoa(target.DefaultPorts[u.Scheme])
	}
	first := len(rec.steps)
	addrs, _ := p.capAddrs(rec, host, port, dc.ordered(host, p.lookup(ctx, rec, dc, host)), nil)
	sni := ""
	var alpn []string
	if u.Scheme == "https" {
		sni, alpn = host, []string{"http/1.1"}
	}
	conn := p.dialFirst(ctx, rec, addrs, port, host, sni, alpn)
	if conn == nil {
		return nil, dialFailure(rec.steps[first:])
	}
	dc.worked(host, conn.RemoteAddr().String())
	return conn, ""
}

// dialFailure names why the steps of a dial that gave no connection did
// not: the failure of the last connect or TLS handshake tried; when none
// was tried, the DNS's (only bogon answers, its failure, or no address).
func dialFailure(steps []model.Step) string {
	for i := len(steps) - 1; i >= 0; i-- {
		s := steps[i]
		if (s.Operation == model.OpConnect || s.Operation == model.OpTLSHandshake) && s.Failure != nil {
			return *s.Failure
		}
	}
	var dnsFail string
	for _, s := range steps {
		if s.DNS == nil {
			continue
		}
		if len(s.DNS.Bogons) > 0 {
			return failure.DNSBogon
		}
		if s.Failure != nil && dnsFail == "" {
			dnsFail = *s.Failure
		}
	}
	if dnsFail != "" {
		return dnsFail
	}
	return failure.DNSNoAnswer
}

// newRequest builds the GET request of a hop.
func newRequest(ctx context.Context, u *url.URL) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	req.Header.Set("Accept-Language", "en-US,en;q=0.9")
	req.Header.Set("Accept-Encoding", "identity")
	req.Close = true
	return req, nil
}

// maxHeaderBytes bounds the response header a server can make the probe read.
const maxHeaderBytes = 256 << 10

// sendRequest writes a GET for u on conn and reads the response header,
// within the step deadline already set on conn. At most maxHeaderBytes +
// maxBody + 1 bytes are read from conn.
func sendRequest(ctx context.Context, conn net.Conn, u *url.URL, maxBody int64) (*http.Response, error) {
	req, err := newRequest(ctx, u)
	if err != nil {
		return nil, err
	}
	if err := req.Write(conn); err != nil {
		return nil, err
	}
	lr := &io.LimitedReader{R: conn, N: maxHeaderBytes + maxBody + 1}
	resp, err := http.ReadResponse(bufio.NewReader(lr), req)
	if err != nil {
		f := failure.Classify(err)
		if strings.HasPrefix(f, failure.Unknown) || lr.N == 0 {
			return nil, failure.New(failure.HTTPBadResponse, model.OpHTTPRoundTrip, err)
		}
		return nil, err
	}
	return resp, nil
}

// roundTrip sends one GET over conn, records it and closes conn. It returns the next URL
// when the response is a redirect to an http(s) URL.
func (p *Probe) roundTrip(ctx context.Context, conn net.Conn, u *url.URL, hop int, maxBody int64) (model.Step, *url.URL) {
	step := newStep(model.OpHTTPRoundTrip, conn.RemoteAddr().String(), u.Hostname())
	data := &model.HTTPData{Hop: hop, URL: u.String(), Method: http.MethodGet}
	step.HTTP = data
	conn.SetDeadline(time.Now().Add(p.cfg.Timeout))
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	resp, err := sendRequest(ctx, conn, u, maxBody)
	if err != nil {
		finish(&step, err)
		return step, nil
	}
	// Close the connection before the body: closing an unread body drains it.
	defer resp.Body.Close()
	defer conn.Close()
	next, err := recordResponse(data, resp, u, maxBody)
	finish(&step, err)
	if err != nil {
		return step, nil
	}
	return step, next
}

// recordResponse records a response's status, chosen headers, Location and
// body (hashed, its head kept, at most maxBody bytes read) in data. It
// returns the next URL when the response is a redirect to an http(s) URL,
// and the error that cut the body.
func recordResponse(data *model.HTTPData, resp *http.Response, u *url.URL, maxBody int64) (*url.URL, error) {
	data.Status = resp.StatusCode
	for _, h := range recordedHeaders {
		if v := resp.Header.Get(h); v != "" {
			if data.Headers == nil {
				data.Headers = map[string]string{}
			}
			data.Headers[h] = truncate(v, 512)
		}
	}
	var next *url.URL
	if isRedirect(resp.StatusCode) {
		if loc := resp.Header.Get("Location"); loc != "" {
			data.Location = truncate(loc, 2048)
			nu, err := u.Parse(loc)
			switch {
			case err != nil:
				data.NotFollowed = "the Location is not a URL"
			case nu.Scheme != "http" && nu.Scheme != "https":
				data.NotFollowed = fmt.Sprintf("redirect to a %s: URL: only http and https are followed", truncate(nu.Scheme, 32))
			case nu.Host == "":
				data.NotFollowed = "the Location names no host"
			default:
				nu.Fragment = ""
				next = nu
			}
		}
	}
	b := newBodyRecorder()
	readStart := time.Now()
	n, err := io.Copy(b, io.LimitReader(resp.Body, maxBody))
	data.BodyLength = n
	if err == nil && n == maxBody {
		var one [1]byte
		if k, _ := resp.Body.Read(one[:]); k > 0 {
			data.BodyTruncated = true
		}
	}
	b.fill(data)
	if d := time.Since(readStart).Seconds(); d > 0 && n > 0 {
		data.BytesPerSec = float64(n) / d
	}
	return next, err
}

func isRedirect(code int) bool {
	switch code {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

// bodyRecorder hashes a body, keeps its head and digests its script and
// iframe elements.
type bodyRecorder struct {
	h    hash.Hash
	head []byte
	el   *ElementScanner
}

func newBodyRecorder() *bodyRecorder {
	return &bodyRecorder{h: sha256.New(), el: NewElementScanner()}
}

func (b *bodyRecorder) Write(p []byte) (int, error) {
	b.h.Write(p)
	b.el.Write(p)
	if room := bodyHeadBytes - len(b.head); room > 0 {
		if len(p) < room {
			room = len(p)
		}
		b.head = append(b.head, p[:room]...)
	}
	return len(p), nil
}

func (b *bodyRecorder) fill(d *model.HTTPData) {
	d.BodySHA256 = hex.EncodeToString(b.h.Sum(nil))
	d.BodyHead = strings.ToValidUTF8(string(b.head), "\uFFFD")
	d.Title = Title(b.head)
	el := b.el.Digests()
	d.Elements = &el
}

func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// pageExtensions are path extensions of pages, not files to download.
var pageExtensions = map[string]bool{"": true, ".html": true, ".htm": true, ".php": true, ".asp": true, ".aspx": true, ".jsp": true}

// looksLikeFile reports whether u's path names a file to download.
func looksLikeFile(u *url.URL) bool {
	ext := strings.ToLower(path.Ext(u.Path))
	if strings.ContainsAny(ext, "/") {
		return false
	}
	return !pageExtensions[ext]
}

// download fetches u again on a new connection, streaming the whole body
// (up to MaxDownloadBytes) into SHA-256, and records a download step.
func (p *Probe) download(ctx context.Context, rec *recorder, dc *dnsCache, u *url.URL) {
	conn, _ := p.dialURL(ctx, rec, dc, u)
	if conn == nil {
		return
	}
	defer conn.Close()
	step := newStep(model.OpDownload, conn.RemoteAddr().String(), u.Hostname())
	data := &model.DownloadData{URL: u.String()}
	step.Download = data
	// The whole download may take longer than a step (but at most
	// downloadSteps steps); each read must not.
	dctx, cancel := context.WithTimeout(ctx, downloadSteps*p.cfg.Timeout)
	defer cancel()
	stop := context.AfterFunc(dctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	dl := &deadlineConn{Conn: conn, idle: p.cfg.Timeout}
	dl.SetDeadline(time.Now().Add(p.cfg.Timeout))
	resp, err := sendRequest(ctx, dl, u, p.cfg.MaxDownloadBytes)
	if err != nil {
		finish(&step, err)
		rec.add(step)
		return
	}
	defer resp.Body.Close()
	defer conn.Close()
	if resp.StatusCode != http.StatusOK {
		finish(&step, failure.New(fmt.Sprintf("%s: http status %d", failure.Unknown, resp.StatusCode), model.OpDownload, nil))
		rec.add(step)
		return
	}
	h := sha256.New()
	start := time.Now()
	n, err := io.Copy(h, io.LimitReader(resp.Body, p.cfg.MaxDownloadBytes))
	data.Size = n
	if err == nil && n == p.cfg.MaxDownloadBytes {
		var one [1]byte
		if k, _ := resp.Body.Read(one[:]); k > 0 {
			data.Truncated = true
		}
	}
	data.SHA256 = hex.EncodeToString(h.Sum(nil))
	if d := time.Since(start).Seconds(); d > 0 && n > 0 {
		data.BytesPerSec = float64(n) / d
	}
	finish(&step, err)
	rec.add(step)
}

// downloadSteps bounds a whole download, in step timeouts.
const downloadSteps = 30

// deadlineConn extends the read deadline before every read: a stalled
// transfer times out, a slow but moving one does not.
type deadlineConn struct {
	net.Conn
	idle time.Duration
}

func (c *deadlineConn) Read(b []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(b)
}
