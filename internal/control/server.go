package control

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	"github.com/firewatch/firewatch/internal/addrclass"
	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/netx"
	"github.com/firewatch/firewatch/internal/probe"
	"github.com/firewatch/firewatch/internal/ratelimit"
	"github.com/firewatch/firewatch/internal/target"
)

// Defaults of Config.
const (
	DefaultRate       = 5 // requests per second per client
	DefaultBurst      = 30
	DefaultCacheTTL   = 60 * time.Second
	DefaultTimeout    = 2 * time.Minute // a whole measurement
	DefaultDNSTimeout = 3 * time.Second // a query to a probe's resolver
	maxRequestBytes   = 64 << 10
	maxCacheEntries   = 1024
)

// Config configures a Server.
type Config struct {
	Probe probe.Measurer // measures from this vantage (Vantage "control")
	// Network decides which addresses are off limits (IsBogon) and dials the
	// probe's resolvers. Its Routable must match the Probe's.
	Network *netx.Network
	Token   string // bearer token; "" accepts every client
	// Lab accepts TEST-NET targets and addresses (addrclass.TestNet) that
	// are otherwise refused.
	Lab bool
	// AllowLoopback accepts loopback targets; for tests only.
	AllowLoopback bool
	Rate          rate.Limit    // per client; default 5/s
	Burst         int           // default 30
	CacheTTL      time.Duration // default 60s; negative disables the cache
	Timeout       time.Duration // per measurement; default 2m
	DNSTimeout    time.Duration // per query to a probe's resolver; default 3s
	Registry      *prometheus.Registry
	// Logger gets one line per measure request (target, outcome, duration;
	// never the client's address); nil logs nothing.
	Logger *slog.Logger
}

// Server is the control's HTTP handler.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	mu      sync.Mutex
	clients *ratelimit.Keyed // per client address
	cache   map[string]cacheEntry
	now     func() time.Time

	requests  *prometheus.CounterVec
	duration  prometheus.Histogram
	cacheHits prometheus.Counter
	limited   prometheus.Counter
	refused   prometheus.Counter
}

type cacheEntry struct {
	m       *model.Measurement
	expires time.Time
}

// NewServer checks cfg and returns the handler.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Probe == nil {
		return nil, errors.New("control: no probe")
	}
	if cfg.Network == nil {
		cfg.Network = &netx.Network{}
	}
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.DNSTimeout <= 0 {
		cfg.DNSTimeout = DefaultDNSTimeout
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), clients: &ratelimit.Keyed{Rate: cfg.Rate, Burst: cfg.Burst}, cache: map[string]cacheEntry{}, now: time.Now}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "firewatch_control_requests_total",
		Help: "Requests to the control by path and status code."}, []string{"path", "code"})
	s.duration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "firewatch_control_measure_seconds",
		Help: "Time to measure one target.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 12)})
	s.cacheHits = prometheus.NewCounter(prometheus.CounterOpts{Name: "firewatch_control_cache_hits_total", Help: "Measurements answered from the cache."})
	s.limited = prometheus.NewCounter(prometheus.CounterOpts{Name: "firewatch_control_rate_limited_total", Help: "Requests refused by the per-client rate limit."})
	s.refused = prometheus.NewCounter(prometheus.CounterOpts{Name: "firewatch_control_refused_targets_total", Help: "Targets refused as loopback, private or reserved."})
	for _, c := range []prometheus.Collector{s.requests, s.duration, s.cacheHits, s.limited, s.refused} {
		if err := cfg.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("control: metrics: %w", err)
		}
	}
	s.mux.HandleFunc("POST "+PathMeasure, s.guard(PathMeasure, s.logged(s.handleMeasure)))
	s.mux.HandleFunc("GET "+PathWhoAmI, s.guard(PathWhoAmI, s.handleWhoAmI))
	s.mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET "+PathHealth, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	return s, nil
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// statusWriter remembers the status code for the metrics.
type statusWriter struct {
	http.ResponseWriter
	code   int
	target string // for the log
	cached bool
	err    string
}

func (w *statusWriter) WriteHeader(code int) { w.code = code; w.ResponseWriter.WriteHeader(code) }

// guard checks the token and the client's rate, and counts the request.
func (s *Server) guard(path string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		defer func() { s.requests.WithLabelValues(path, fmt.Sprint(sw.code)).Inc() }()
		if s.cfg.Token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) != 1 {
				sw.Header().Set("WWW-Authenticate", `Bearer realm="firewatch control"`)
				writeError(sw, http.StatusUnauthorized, "missing or wrong bearer token")
				return
			}
		}
		if !s.clients.Allow(clientIP(r)) {
			s.limited.Inc()
			sw.Header().Set("Retry-After", "1")
			writeError(sw, http.StatusTooManyRequests, "rate limit exceeded; slow down")
			return
		}
		h(sw, r)
	}
}

// clientIP is the address the request came from (no proxy headers are
// trusted).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().String()
	}
	return host
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	if sw, ok := w.(*statusWriter); ok {
		sw.err = msg
	}
	writeJSON(w, code, ErrorResponse{Error: msg})
}

// logged logs one line per measure request.
func (s *Server) logged(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w, code: http.StatusOK}
		}
		h(sw, r)
		s.cfg.Logger.Info("measure", "target", sw.target, "code", sw.code, "cached", sw.cached,
			"seconds", fmt.Sprintf("%.2f", time.Since(start).Seconds()), "error", sw.err)
	}
}

func (s *Server) handleWhoAmI(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, ClientInfo{Address: clientIP(r)})
}

// refusal says why ip is off limits, or "".
func (s *Server) refusal(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.IsLoopback() {
		if s.cfg.AllowLoopback {
			return ""
		}
		return "loopback"
	}
	if s.cfg.Lab && addrclass.IsTestNet(ip) {
		return ""
	}
	if s.cfg.Network.IsBogon(ip) {
		return "private, reserved or otherwise unroutable"
	}
	return ""
}

func (s *Server) handleMeasure(w http.ResponseWriter, r *http.Request) {
	var req MeasureRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxRequestBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "request body: "+err.Error())
		return
	}
	if sw, ok := w.(*statusWriter); ok {
		sw.target = req.Target
	}
	ts, err := target.Parse(req.Target)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("target %q: %v", req.Target, err))
		return
	}
	if len(ts) != 1 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("target %q: give one URL, not a bare domain", req.Target))
		return
	}
	t := ts[0]
	if len(req.Addrs) > MaxAddrs {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("addrs: at most %d addresses", MaxAddrs))
		return
	}
	if ip, err := netip.ParseAddr(t.Host); err == nil {
		if why := s.refusal(ip); why != "" {
			s.refused.Inc()
			writeError(w, http.StatusForbidden, fmt.Sprintf("target %s: %s address refused", t.Host, why))
			return
		}
	}
	var addrs []string
	for _, a := range req.Addrs {
		ip, err := parseAddr(a)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("addrs: %q is not an IP address", a))
			return
		}
		if why := s.refusal(ip); why != "" {
			s.refused.Inc()
			writeError(w, http.StatusForbidden, fmt.Sprintf("addrs: %s is a %s address: refused", ip, why))
			return
		}
		addrs = append(addrs, ip.String())
	}
	var resolvers []netip.AddrPort
	for _, res := range req.Resolvers {
		ap, err := udpResolver(res)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("resolvers: %q: %v", res, err))
			return
		}
		if why := s.refusal(ap.Addr()); why != "" {
			s.refused.Inc()
			writeError(w, http.StatusForbidden, fmt.Sprintf("resolvers: %s is a %s address: refused", ap.Addr(), why))
			return
		}
		resolvers = append(resolvers, ap)
	}
	key := cacheKey(t.String(), addrs, req.Resolvers, req.HTTP3)
	if m, ok := s.cached(key); ok {
		if sw, ok := w.(*statusWriter); ok {
			sw.cached = true
		}
		s.cacheHits.Inc()
		writeJSON(w, http.StatusOK, MeasureResponse{Measurement: m, Client: ClientInfo{Address: clientIP(r)}, Cached: true})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	start := time.Now()
	m := s.cfg.Probe.Measure(ctx, t, probe.Extra{Addrs: addrs, HTTP3: req.HTTP3})
	if why := s.resolvedRefusal(m, t.Host); why != "" {
		s.refused.Inc()
		writeError(w, http.StatusForbidden, fmt.Sprintf("target %s resolves to %s: refused", t.Host, why))
		return
	}
	for i, ap := range resolvers {
		m.Steps = append(m.Steps, s.queryResolver(ctx, req.Resolvers[i], ap, t.Host))
	}
	s.duration.Observe(time.Since(start).Seconds())
	m.Vantage = model.VantageControl
	s.store(key, m)
	writeJSON(w, http.StatusOK, MeasureResponse{Measurement: m, Client: ClientInfo{Address: clientIP(r)}})
}

// resolvedRefusal checks the control's own DNS answers for host: a name
// that resolves to loopback or private space is refused, so the control never
// becomes a way into the network it runs in (the probe does not connect to
// such answers either; this keeps their content out of the answer too).
func (s *Server) resolvedRefusal(m *model.Measurement, host string) string {
	for _, st := range m.Steps {
		if st.DNS == nil || !strings.EqualFold(st.Hostname, host) {
			continue
		}
		for _, resp := range st.DNS.Responses {
			for _, a := range resp.Answers {
				ip, err := netip.ParseAddr(a.Value)
				if err != nil {
					continue
				}
				if why := s.refusal(ip); why != "" {
					return fmt.Sprintf("%s, a %s address", ip, why)
				}
			}
		}
	}
	return ""
}

func parseAddr(s string) (netip.Addr, error) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.Unmap(), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}, err
	}
	return ap.Addr().Unmap(), nil
}

// udpResolver parses "udp://IP:PORT".
func udpResolver(s string) (netip.AddrPort, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "udp" {
		return netip.AddrPort{}, errors.New("only udp://IP:PORT resolvers are checked")
	}
	ap, err := netip.ParseAddrPort(u.Host)
	if err != nil {
		return netip.AddrPort{}, errors.New("want udp://IP:PORT")
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// queryResolver asks ap for host's A record over a connected UDP socket (so
// that an ICMP port unreachable shows as connection_refused) and records the
// step as the probe would.
func (s *Server) queryResolver(ctx context.Context, name string, ap netip.AddrPort, host string) model.Step {
	start := time.Now()
	step := model.Step{Operation: model.OpDNSRoundTrip, Address: ap.String(), Hostname: host, StartedAt: start.UTC(),
		DNS: &model.DNSData{Resolver: name, QueryType: "A", Responses: []model.DNSResponse{}}}
	err := func() error {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.DNSTimeout)
		defer cancel()
		conn, err := s.cfg.Network.Dial(ctx, "udp", ap.String())
		if err != nil {
			return err
		}
		defer conn.Close()
		if d, ok := ctx.Deadline(); ok {
			conn.SetDeadline(d)
		}
		q := new(dns.Msg)
		q.SetQuestion(dns.Fqdn(host), dns.TypeA)
		dc := &dns.Conn{Conn: conn}
		if err := dc.WriteMsg(q); err != nil {
			return err
		}
		for {
			resp, err := dc.ReadMsg()
			if err != nil {
				return err
			}
			if resp.Id != q.Id {
				continue
			}
			r := model.DNSResponse{ArrivalMS: float64(time.Since(start).Microseconds()) / 1000, From: ap.String(),
				Rcode: dns.RcodeToString[resp.Rcode], Answers: []model.DNSAnswer{}}
			for _, rr := range resp.Answer {
				if a, ok := rr.(*dns.A); ok {
					r.Answers = append(r.Answers, model.DNSAnswer{Name: host, Type: "A", Value: a.A.String(), TTL: a.Hdr.Ttl})
				}
			}
			step.DNS.Responses = append(step.DNS.Responses, r)
			return nil
		}
	}()
	step.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		f := failure.Classify(err)
		step.Failure = &f
	}
	return step
}

func cacheKey(t string, addrs, resolvers []string, http3 bool) string {
	a := append([]string(nil), addrs...)
	sort.Strings(a)
	r := append([]string(nil), resolvers...)
	sort.Strings(r)
	return t + "|" + strings.Join(a, ",") + "|" + strings.Join(r, ",") + "|" + strconv.FormatBool(http3)
}

func (s *Server) cached(key string) (*model.Measurement, bool) {
	if s.cfg.CacheTTL < 0 {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.cache[key]
	if !ok || s.now().After(e.expires) {
		return nil, false
	}
	return e.m, true
}

func (s *Server) store(key string, m *model.Measurement) {
	if s.cfg.CacheTTL < 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.cache) >= maxCacheEntries {
		for k, e := range s.cache {
			if now.After(e.expires) {
				delete(s.cache, k)
			}
		}
		if len(s.cache) >= maxCacheEntries {
			s.cache = map[string]cacheEntry{}
		}
	}
	s.cache[key] = cacheEntry{m: m, expires: now.Add(s.cfg.CacheTTL)}
}
