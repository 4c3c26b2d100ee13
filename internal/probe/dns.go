package probe

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/miekg/dns"
)

// resolver is one configured DNS resolver.
type resolver struct {
	name    string // as recorded: "system" or the URL
	kind    string // "system", "udp", "tcp", "https"
	address string // ip:port for udp/tcp
	url     string // for https
}

func parseResolver(s string) (resolver, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return resolver{}, fmt.Errorf("resolver %q: want udp://IP:PORT, tcp://IP:PORT or https://HOST/dns-query", s)
	}
	switch u.Scheme {
	case "udp", "tcp":
		host, port := u.Hostname(), u.Port()
		if port == "" {
			port = "53"
		}
		if _, err := netip.ParseAddr(host); err != nil {
			return resolver{}, fmt.Errorf("resolver %q: host must be an IP address", s)
		}
		addr := net.JoinHostPort(host, port)
		return resolver{name: u.Scheme + "://" + addr, kind: u.Scheme, address: addr}, nil
	case "https":
		return resolver{name: s, kind: "https", url: s}, nil
	}
	return resolver{}, fmt.Errorf("resolver %q: unsupported scheme %q (want udp, tcp or https)", s, u.Scheme)
}

func (p *Probe) resolverNames() []string {
	if len(p.resolvers) == 0 {
		return []string{"system"}
	}
	out := make([]string, len(p.resolvers))
	for i, r := range p.resolvers {
		out[i] = r.name
	}
	return out
}

// udpBuffers holds receive buffers big enough for any UDP datagram.
var udpBuffers = sync.Pool{New: func() any { b := make([]byte, 65535); return &b }}

// maxDNSResponses bounds how many responses to one UDP query are kept.
const maxDNSResponses = model.MaxDNSResponses

// resolve queries A and AAAA for host through every configured resolver (in
// parallel), waits for every query to end (the injection window included),
// records one step per query and returns the union of the non-bogon
// addresses, IPv4 first, in answer order.
func (p *Probe) resolve(ctx context.Context, rec *recorder, host string) []netip.Addr {
	return p.startResolve(ctx, host).wait(rec)
}

// dnsRun is the resolution of one host in flight: each query runs on its own
// goroutine and reports every response as it arrives, so that the
// measurement can go on with the first answers while the queries keep
// listening for the injection window.
type dnsRun struct {
	p      *Probe
	events chan dnsEvent
	steps  []model.Step          // per query, once ended
	resps  [][]model.DNSResponse // per query, the responses so far
	ended  []bool
	left   int // queries still running
}

// dnsEvent is one response of query k (resp set) or its end (step set).
type dnsEvent struct {
	k    int
	resp *model.DNSResponse
	step *model.Step
}

// startResolve starts the A and AAAA queries for host through every
// configured resolver.
func (p *Probe) startResolve(ctx context.Context, host string) *dnsRun {
	rs := p.resolvers
	if len(rs) == 0 {
		rs = []resolver{{name: "system", kind: "system"}}
	}
	qtypes := []uint16{dns.TypeA, dns.TypeAAAA}
	n := len(rs) * len(qtypes)
	// Room for every event, so that a query never waits for the reader.
	r := &dnsRun{p: p, events: make(chan dnsEvent, n*(maxDNSResponses+1)),
		steps: make([]model.Step, n), resps: make([][]model.DNSResponse, n), ended: make([]bool, n), left: n}
	for i, res := range rs {
		for j, qt := range qtypes {
			k := i*len(qtypes) + j
			go func() {
				step := p.query(ctx, res, host, qt, func(resp model.DNSResponse) {
					r.events <- dnsEvent{k: k, resp: &resp}
				})
				r.events <- dnsEvent{k: k, step: &step}
			}()
		}
	}
	return r
}

// next takes one event; it returns false once every query has ended.
func (r *dnsRun) next() bool {
	if r.left == 0 {
		return false
	}
	e := <-r.events
	if e.step != nil {
		r.steps[e.k], r.ended[e.k] = *e.step, true
		r.left--
	} else {
		r.resps[e.k] = append(r.resps[e.k], *e.resp)
	}
	return true
}

// early returns the addresses to start connecting to: it waits until every
// query has its first response (or has ended), and then until some answer
// names an address or every query has ended. The queries go on listening.
func (r *dnsRun) early() []netip.Addr {
	for {
		ready := true
		for k := range r.ended {
			if !r.ended[k] && len(r.resps[k]) == 0 {
				ready = false
			}
		}
		if ready {
			if a := r.p.answerAddrs(r.resps); len(a) > 0 || r.left == 0 {
				return a
			}
		}
		if !r.next() {
			return r.p.answerAddrs(r.resps)
		}
	}
}

// wait waits for every query to end, records the steps (in resolver and
// query-type order) and returns every non-bogon address answered.
func (r *dnsRun) wait(rec *recorder) []netip.Addr {
	for r.next() {
	}
	all := make([][]model.DNSResponse, len(r.steps))
	for k, s := range r.steps {
		rec.add(s)
		if s.DNS != nil {
			all[k] = s.DNS.Responses
		}
	}
	return r.p.answerAddrs(all)
}

// answerAddrs returns the union of the non-bogon A and AAAA answers of the
// responses (per query, in arrival order), IPv4 first.
func (p *Probe) answerAddrs(perQuery [][]model.DNSResponse) []netip.Addr {
	var v4, v6 []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, resps := range perQuery {
		for _, resp := range resps {
			for _, a := range resp.Answers {
				ip, err := netip.ParseAddr(a.Value)
				if err != nil || (a.Type != "A" && a.Type != "AAAA") || seen[ip] || p.net.IsBogon(ip) {
					continue
				}
				seen[ip] = true
				if ip.Unmap().Is4() {
					v4 = append(v4, ip.Unmap())
				} else {
					v6 = append(v6, ip)
				}
			}
		}
	}
	return append(v4, v6...)
}

// query sends one query of type qt for host to r and returns its step;
// notify sees every response as it arrives.
func (p *Probe) query(ctx context.Context, r resolver, host string, qt uint16, notify func(model.DNSResponse)) model.Step {
	op := model.OpDNSRoundTrip
	if r.kind == "system" {
		op = model.OpResolve
	}
	step := newStep(op, r.address, host)
	data := &model.DNSData{Resolver: r.name, QueryType: dns.TypeToString[qt], Responses: []model.DNSResponse{}}
	step.DNS = data
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(host), qt)
	q.RecursionDesired = true
	q.SetEdns0(1232, false)

	var resps []model.DNSResponse
	var err error
	switch r.kind {
	case "system":
		var addr string
		resps, addr, err = p.querySystem(ctx, q, notify)
		step.Address = addr
	case "udp":
		resps, err = p.queryUDP(ctx, r.address, q, notify)
	case "tcp":
		resps, err = p.queryTCP(ctx, r.address, q)
	case "https":
		resps, err = p.queryDoH(ctx, r.url, q)
	}
	if r.kind == "tcp" || r.kind == "https" {
		for _, resp := range resps {
			notify(resp)
		}
	}
	for i := range resps {
		p.classifyResponse(&resps[i], data)
	}
	data.Responses = append(data.Responses, resps...)
	if err == nil && len(resps) > 0 && resps[0].Failure != nil {
		// The step's outcome is what an ordinary stub resolver would have
		// used: the first response. Later responses are evidence in Responses.
		// An empty AAAA answer is how an IPv4-only name answers: the
		// response says dns_no_answer, the step is no failure (no noise).
		if f := *resps[0].Failure; !(qt == dns.TypeAAAA && f == failure.DNSNoAnswer) {
			err = failure.New(f, op, nil)
		}
	}
	if err == nil && len(resps) == 0 {
		err = failure.New(failure.GenericTimeout, op, nil)
	}
	finish(&step, err)
	return step
}

// querySystem queries the nameservers of the system's resolv.conf in order
// until one answers.
func (p *Probe) querySystem(ctx context.Context, q *dns.Msg, notify func(model.DNSResponse)) ([]model.DNSResponse, string, error) {
	servers, err := readResolvConf(p.net.ResolvConf())
	if err != nil {
		return nil, "", err
	}
	var lastErr error
	var addr string
	for _, addr = range servers {
		resps, err := p.queryUDP(ctx, addr, q, notify)
		if err == nil && len(resps) > 0 {
			return resps, addr, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, addr, lastErr
}

// queryUDP sends q to addr and records every response with q's id: after the
// first one it keeps listening for the injection window, since an on-path
// injector answers first and the genuine answer arrives later. notify sees
// each response as it arrives.
func (p *Probe) queryUDP(ctx context.Context, addr string, q *dns.Msg, notify func(model.DNSResponse)) ([]model.DNSResponse, error) {
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	pc, err := p.net.Listen(ctx, "udp", ":0")
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	wire, err := q.Pack()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	deadline := start.Add(p.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	stop := context.AfterFunc(ctx, func() { pc.SetReadDeadline(time.Now()) })
	defer stop()
	if _, err := pc.WriteTo(wire, raddr); err != nil {
		return nil, err
	}
	pc.SetReadDeadline(deadline)
	var resps []model.DNSResponse
	bp := udpBuffers.Get().(*[]byte)
	defer udpBuffers.Put(bp)
	buf := *bp
	for len(resps) < maxDNSResponses {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if len(resps) > 0 {
				return resps, nil // the window closed
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		resp, ok := parseResponse(buf[:n], q)
		if !ok {
			continue
		}
		resp.ArrivalMS = ms(time.Since(start))
		resp.From = from.String()
		if len(resps) == 0 {
			end := time.Now().Add(p.cfg.InjectionWindow)
			if end.Before(deadline) {
				pc.SetReadDeadline(end)
			}
		}
		resps = append(resps, resp)
		notify(resp)
	}
	return resps, nil
}

// parseResponse decodes a DNS message and keeps it when it is a response to
// q (same id and question).
func parseResponse(wire []byte, q *dns.Msg) (model.DNSResponse, bool) {
	m := new(dns.Msg)
	if err := m.Unpack(wire); err != nil {
		return model.DNSResponse{}, false
	}
	if !m.Response || m.Id != q.Id {
		return model.DNSResponse{}, false
	}
	if len(m.Question) > 0 && len(q.Question) > 0 &&
		(!strings.EqualFold(m.Question[0].Name, q.Question[0].Name) || m.Question[0].Qtype != q.Question[0].Qtype) {
		return model.DNSResponse{}, false
	}
	return convertMsg(m, wire), true
}

// convertMsg turns a DNS message into its record.
func convertMsg(m *dns.Msg, wire []byte) model.DNSResponse {
	r := model.DNSResponse{Rcode: dns.RcodeToString[m.Rcode], Answers: []model.DNSAnswer{}}
	if r.Rcode == "" {
		r.Rcode = fmt.Sprintf("RCODE%d", m.Rcode)
	}
	for _, rr := range m.Answer {
		h := rr.Header()
		a := model.DNSAnswer{Name: strings.TrimSuffix(h.Name, "."), Type: dns.TypeToString[h.Rrtype], TTL: h.Ttl}
		switch v := rr.(type) {
		case *dns.A:
			a.Value = v.A.String()
		case *dns.AAAA:
			a.Value = v.AAAA.String()
		case *dns.CNAME:
			a.Value = strings.TrimSuffix(v.Target, ".")
		default:
			continue
		}
		r.Answers = append(r.Answers, a)
	}
	if len(wire) > 0 {
		r.Raw = base64.StdEncoding.EncodeToString(wire)
	}
	return r
}

// classifyResponse sets the response's failure and records its bogons.
func (p *Probe) classifyResponse(r *model.DNSResponse, data *model.DNSData) {
	var f string
	switch r.Rcode {
	case "NOERROR":
		n := 0
		for _, a := range r.Answers {
			if a.Type != "A" && a.Type != "AAAA" {
				continue
			}
			n++
			ip, err := netip.ParseAddr(a.Value)
			if err != nil || p.net.IsBogon(ip) {
				f = failure.DNSBogon
				if !contains(data.Bogons, a.Value) {
					data.Bogons = append(data.Bogons, a.Value)
				}
			}
		}
		if n == 0 {
			f = failure.DNSNoAnswer
		}
	case "NXDOMAIN":
		f = failure.DNSNXDomain
	case "REFUSED":
		f = failure.DNSRefused
	case "SERVFAIL":
		f = failure.DNSServfail
	default:
		f = failure.Unknown + ": dns rcode " + r.Rcode
	}
	if f != "" {
		r.Failure = &f
	}
	sort.Strings(data.Bogons)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// queryTCP sends q over TCP (RFC 1035 length-prefixed) and reads one response.
func (p *Probe) queryTCP(ctx context.Context, addr string, q *dns.Msg) ([]model.DNSResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	start := time.Now()
	conn, err := p.net.Dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	co := &dns.Conn{Conn: conn}
	if err := co.WriteMsg(q); err != nil {
		return nil, err
	}
	wire, err := co.ReadMsgHeader(nil)
	if err != nil {
		return nil, err
	}
	resp, ok := parseResponse(wire, q)
	if !ok {
		return nil, errors.New("dns: malformed or mismatched response")
	}
	resp.ArrivalMS = ms(time.Since(start))
	resp.From = conn.RemoteAddr().String()
	return []model.DNSResponse{resp}, nil
}

// maxDoHBody bounds a DNS-over-HTTPS response body.
const maxDoHBody = 65535

// queryDoH sends q to a DNS-over-HTTPS server (RFC 8484): POST, and GET when
// the server refuses POST.
func (p *Probe) queryDoH(ctx context.Context, u string, q *dns.Msg) ([]model.DNSResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	q = q.Copy()
	q.Id = 0 // RFC 8484 §4.1: use 0 for cache friendliness
	wire, err := q.Pack()
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		DialContext:       p.net.Dial,
		TLSClientConfig:   &tls.Config{RootCAs: p.net.Roots()},
		ForceAttemptHTTP2: true,
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var remote string
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
		remote = ci.Conn.RemoteAddr().String()
	}})
	start := time.Now()
	do := func(req *http.Request) (*http.Response, error) {
		req.Header.Set("Accept", "application/dns-message")
		return client.Do(req)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(wire))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/dns-message")
	resp, err := do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusUnsupportedMediaType {
		resp.Body.Close()
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, u+sep+"dns="+base64.RawURLEncoding.EncodeToString(wire), nil)
		if err != nil {
			return nil, err
		}
		if resp, err = do(req); err != nil {
			return nil, err
		}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("doh: HTTP status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDoHBody))
	if err != nil {
		return nil, err
	}
	r, ok := parseResponse(body, q)
	if !ok {
		return nil, errors.New("doh: malformed or mismatched response")
	}
	r.ArrivalMS = ms(time.Since(start))
	r.From = remote
	return []model.DNSResponse{r}, nil
}

// maxResolvConf bounds the resolver configuration read.
const maxResolvConf = 64 << 10

// readResolvConf returns the nameservers of a resolv.conf as ip:port. Besides
// the standard "nameserver IP" it accepts "nameserver IP:PORT" (and
// "[IPv6]:PORT"), which tests use.
func readResolvConf(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading resolver configuration: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(io.LimitReader(f, maxResolvConf))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		ns := fields[1]
		if ap, err := netip.ParseAddrPort(ns); err == nil {
			out = append(out, ap.String())
			continue
		}
		if a, err := netip.ParseAddr(ns); err == nil {
			out = append(out, net.JoinHostPort(a.String(), "53"))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no nameserver in %s", path)
	}
	return out, nil
}

// SystemNameservers returns the nameservers (ip:port) of the network's
// resolv.conf, in order.
func SystemNameservers(n interface{ ResolvConf() string }) ([]string, error) {
	return readResolvConf(n.ResolvConf())
}
