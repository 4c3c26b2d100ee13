package dnsscan

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firewatch/firewatch/internal/geo"
	"github.com/firewatch/firewatch/internal/netx"
	"github.com/miekg/dns"
)

// Defaults of Config.
const (
	DefaultRate    = 1000
	DefaultTimeout = 2 * time.Second
)

// Resolver is one open resolver of the resolver method.
type Resolver struct {
	Addr    netip.AddrPort
	Country string
	ASN     uint32
}

// Config configures a scan. Exactly one of Via and Resolvers is set.
type Config struct {
	// Network opens the sockets and dials the TLS checks; nil is the host's.
	Network *netx.Network
	// Via are addresses beyond the censor that run no DNS server (the via
	// method). Domains are spread over them in turn.
	Via []netip.AddrPort
	// Resolvers are the open resolvers of the resolver method.
	Resolvers []Resolver
	// ViaCountry and ViaASN name the network the via addresses are in,
	// written in the via records (resolver records carry their resolver's).
	ViaCountry string
	ViaASN     uint32
	// QTypes are the query types asked for each domain (default A).
	QTypes []uint16
	// Rate is the number of queries per second; 0 is unlimited.
	Rate int
	// Timeout is how long after sending a query its responses are
	// collected; a query without any is not censored (via).
	Timeout time.Duration
	// Sockets per address family (default 4).
	Sockets int
	// NoInfer turns off rule inference (via).
	NoInfer bool
	// Pool is the forged-address pool, updated by the scan; nil starts an
	// empty one (see Summary.Pool).
	Pool *Pool

	// ControlResolver answers every domain from outside (resolver method).
	ControlResolver netip.AddrPort
	// Control gives control answers known in advance (domain/qtype →
	// addresses); consulted before ControlResolver.
	Control ControlAnswers
	// ControlNames are well-known names asked to every resolver first; a
	// resolver that fails them all is unusable.
	ControlNames []string
	// ASN maps addresses to their AS: an answer in the AS of a control
	// address is not poisoned. nil skips the test.
	ASN *geo.DB
	// VerifyTLS accepts an answer whose address presents a valid
	// certificate for the name; TLSConcurrency bounds the handshakes.
	VerifyTLS      bool
	TLSConcurrency int

	// Progress, when set, is called after each domain is done.
	Progress func()
	// Logf reports resolvers found unusable and other notes.
	Logf func(format string, args ...any)

	skipViaCheck bool // benchmarks against a server that answers everything
}

// ControlAnswers gives the control's addresses for a domain and qtype; ok
// is false when it does not know the domain.
type ControlAnswers interface {
	Lookup(domain string, qtype uint16) (addrs []netip.Addr, ok bool)
}

// Summary is what a scan did.
type Summary struct {
	Domains     int // domains read from the list
	Censored    int // domains with at least one censored record
	Rules       int // distinct rules inferred
	Forged      int // distinct forged addresses in the pool
	Records     int
	Unfinished  int // records cut short by an interruption, not written
	Interrupted bool
	Elapsed     time.Duration // from the first query of the list to the last record
	Unusable    []string      // resolvers found unusable
	Stats       Stats
	Pool        *Pool
	RuleList    []InferredRule
}

// InferredRule is one rule and the number of censored records it explains.
type InferredRule struct {
	Kind  string `json:"rule"`
	Base  string `json:"base"`
	Count int    `json:"count"`
}

// String is the summary line of `firewatch scan dns`.
func (s Summary) String() string {
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Domains) / s.Elapsed.Seconds()
	}
	return fmt.Sprintf("%d domains, %d censored, %d rules, %d forged addresses, %.0f domains/s", s.Domains, s.Censored, s.Rules, s.Forged, rate)
}

// maxBacklog bounds the queries read from the list but not sent yet.
const maxBacklog = 4096

// Domains yields the domains to scan: name, list line, or io.EOF.
type Domains func() (name string, line int, err error)

// QTypeName returns "A", "AAAA", ...
func QTypeName(t uint16) string { return dns.TypeToString[t] }

// scan is one run's state.
type scan struct {
	cfg   Config
	e     *engine
	pool  *Pool
	emit  func(*Record) error
	out   chan *Record
	tasks sync.WaitGroup
	sem   chan struct{}

	rules      map[ruleKey]int
	rulesMu    sync.Mutex
	inferring  map[string][]*viaTask // top domain → tasks waiting for its rule; reaper only
	censored   atomic.Int64
	records    atomic.Int64
	unfinished atomic.Int64
	viaNext    int
	tls        *tlsChecker
	usable     []Resolver
}

type ruleKey struct{ kind, base string }

// Scan reads domains from next and measures each one with every query
// type, writing one Record per domain and query type (and resolver) to
// emit as it finishes, from one goroutine. A list error stops the reading;
// it is returned after everything in flight is written. On ctx's end it
// stops sending and writes what finishes within the timeout.
func Scan(ctx context.Context, cfg Config, next Domains, emit func(*Record) error) (Summary, error) {
	start := time.Now()
	if err := cfg.check(); err != nil {
		return Summary{}, err
	}
	s := &scan{cfg: cfg, emit: emit, rules: map[ruleKey]int{}, inferring: map[string][]*viaTask{}, pool: cfg.Pool}
	if s.pool == nil {
		s.pool = NewPool()
	}
	v4, v6 := false, false
	for _, a := range cfg.servers() {
		if a.Addr().Is4() || a.Addr().Is4In6() {
			v4 = true
		} else {
			v6 = true
		}
	}
	e, err := newEngine(ctx, engineConfig{Network: cfg.Network, Timeout: cfg.Timeout, Rate: cfg.Rate, Sockets: cfg.Sockets, V4: v4, V6: v6})
	if err != nil {
		return Summary{}, err
	}
	s.e = e
	sendCtx, stopSending := context.WithCancel(context.Background())
	defer stopSending()
	go func() {
		select {
		case <-ctx.Done():
			stopSending()
		case <-sendCtx.Done():
		}
	}()
	e.start(sendCtx)
	if cfg.VerifyTLS {
		s.tls = newTLSChecker(cfg.Network, cfg.TLSConcurrency, cfg.Timeout)
	}

	// One writer: emit is never called concurrently.
	s.out = make(chan *Record, 1024)
	var emitErr error
	written := make(chan struct{})
	go func() {
		defer close(written)
		for r := range s.out {
			if emitErr == nil {
				if err := emit(r); err != nil {
					emitErr = err
					stopSending()
				}
			}
		}
	}()

	var readErr error
	domains := 0
	if err := s.precheck(ctx); err != nil {
		readErr = err
	} else {
		start = time.Now() // the rate is the list's, the check's window aside
		perDomain := len(cfg.QTypes)
		if len(cfg.Resolvers) > 0 {
			perDomain *= len(s.usable) + 1
		}
		inflight := cap(e.fifo) / 2 / perDomain
		if inflight < 1 {
			inflight = 1
		}
		s.sem = make(chan struct{}, inflight)
	read:
		for ctx.Err() == nil && sendCtx.Err() == nil {
			name, line, err := next()
			if err == io.EOF {
				break
			}
			if err != nil {
				readErr = err
				break
			}
			select {
			case s.sem <- struct{}{}:
			case <-sendCtx.Done():
				break read
			}
			// Read no further ahead than the sender: queries waiting to be
			// sent are bounded, and memory follows the rate, not the list.
			for e.backlog() > maxBacklog && sendCtx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
			domains++
			s.startDomain(name, line)
		}
	}
	s.tasks.Wait()
	e.close()
	e.wait()
	close(s.out)
	<-written

	sum := Summary{
		Domains:     domains,
		Censored:    int(s.censored.Load()),
		Forged:      s.pool.Len(),
		Records:     int(s.records.Load()),
		Unfinished:  int(s.unfinished.Load()),
		Interrupted: ctx.Err() != nil,
		Elapsed:     time.Since(start),
		Stats:       e.stats(),
		Pool:        s.pool,
	}
	s.rulesMu.Lock()
	for k, n := range s.rules {
		sum.RuleList = append(sum.RuleList, InferredRule{Kind: k.kind, Base: k.base, Count: n})
	}
	s.rulesMu.Unlock()
	sum.Rules = len(sum.RuleList)
	for _, r := range cfg.Resolvers {
		if !containsResolver(s.usable, r) {
			sum.Unusable = append(sum.Unusable, r.Addr.String())
		}
	}
	return sum, errors.Join(readErr, emitErr)
}

func containsResolver(rs []Resolver, r Resolver) bool {
	for _, x := range rs {
		if x.Addr == r.Addr {
			return true
		}
	}
	return false
}

func (c *Config) servers() []netip.AddrPort {
	if len(c.Via) > 0 {
		return c.Via
	}
	out := make([]netip.AddrPort, 0, len(c.Resolvers)+1)
	for _, r := range c.Resolvers {
		out = append(out, r.Addr)
	}
	if c.ControlResolver.IsValid() {
		out = append(out, c.ControlResolver)
	}
	return out
}

func (c *Config) check() error {
	if (len(c.Via) == 0) == (len(c.Resolvers) == 0) {
		return errors.New("dns scan: exactly one of via addresses and resolvers is needed")
	}
	for _, a := range c.servers() {
		if !a.IsValid() || a.Port() == 0 || a.Addr().IsUnspecified() || a.Addr().IsMulticast() {
			return fmt.Errorf("dns scan: bad server address %s", a)
		}
	}
	if len(c.Resolvers) > 0 && !c.ControlResolver.IsValid() && c.Control == nil {
		return errors.New("dns scan: the resolver method needs a control (answers or a control resolver)")
	}
	if len(c.QTypes) == 0 {
		c.QTypes = []uint16{dns.TypeA}
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Rate < 0 {
		return fmt.Errorf("dns scan: rate %d: must be 0 (unlimited) or more", c.Rate)
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return nil
}

// group tracks the records of one domain.
type group struct {
	s        *scan
	pending  atomic.Int32
	censored atomic.Bool
}

func (g *group) finish(r *Record) {
	if r != nil {
		if r.Censored() {
			g.censored.Store(true)
		}
		g.s.records.Add(1)
		g.s.out <- r
	}
	if g.pending.Add(-1) == 0 {
		if g.censored.Load() {
			g.s.censored.Add(1)
		}
		<-g.s.sem
		if g.s.cfg.Progress != nil {
			g.s.cfg.Progress()
		}
		g.s.tasks.Done()
	}
}

func (s *scan) startDomain(name string, line int) {
	g := &group{s: s}
	s.tasks.Add(1)
	if len(s.cfg.Via) > 0 {
		server := s.cfg.Via[s.viaNext%len(s.cfg.Via)]
		s.viaNext++
		g.pending.Store(int32(len(s.cfg.QTypes)))
		for _, qt := range s.cfg.QTypes {
			s.startVia(g, name, line, qt, server)
		}
		return
	}
	g.pending.Store(int32(len(s.cfg.QTypes) * len(s.usable)))
	if len(s.usable) == 0 {
		g.pending.Store(1)
		g.finish(nil)
		return
	}
	for _, qt := range s.cfg.QTypes {
		s.startResolvers(g, name, line, qt)
	}
}

// ask queries name from server and calls done with the finished query;
// false when the scan has stopped.
func (s *scan) ask(server netip.AddrPort, name string, qtype uint16, done func(*query)) bool {
	return s.e.enqueue(&query{server: server, name: dns.Fqdn(name), qtype: qtype, done: done})
}

// precheck makes sure, before the scan proper, that no via address answers
// DNS itself (every answer would then be taken for an injected one), and
// finds which resolvers are usable.
func (s *scan) precheck(ctx context.Context) error {
	if len(s.cfg.Via) > 0 && s.cfg.skipViaCheck {
		return nil
	}
	if len(s.cfg.Via) > 0 {
		var mu sync.Mutex
		var answering []string
		var wg sync.WaitGroup
		for _, v := range s.cfg.Via {
			wg.Add(1)
			nonce := "firewatch-check-" + randomHex(6) + ".invalid"
			if !s.ask(v, nonce, dns.TypeA, func(q *query) {
				defer wg.Done()
				if len(q.responses) > 0 {
					mu.Lock()
					answering = append(answering, v.String())
					mu.Unlock()
				}
			}) {
				wg.Done()
			}
		}
		wg.Wait()
		if ctx.Err() != nil {
			return nil
		}
		if len(answering) > 0 {
			return fmt.Errorf("dns scan: --via %s answers DNS queries for a name that does not exist; a via address must run no DNS server, or every answer is taken for a forged one", strings.Join(answering, ","))
		}
		return nil
	}
	return s.checkResolvers(ctx)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func boolp(b bool) *bool { return &b }

func strp(s string) *string { return &s }
