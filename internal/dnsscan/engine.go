package dnsscan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/firewatch/firewatch/internal/netx"
	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/time/rate"
)

// slotsPerConn bounds the queries in flight on one socket: half of the
// 16-bit id space, so that a free id is found in a step or two.
const slotsPerConn = 1 << 15

// batch is the number of datagrams read per recvmmsg call.
const batch = 64

// errStopped marks a query that was never sent because the scan stopped.
var errStopped = errors.New("scan stopped before the query was sent")

// query is one DNS question sent to one server. The engine fills Sent and
// Responses; done is called once, from the engine's reaper goroutine, when
// the query's window has closed.
type query struct {
	server netip.AddrPort
	name   string // FQDN, lower case
	qtype  uint16
	done   func(q *query)

	sent      time.Time
	deadline  time.Time
	responses []Response
	err       error

	c  *conn
	id uint16
}

// conn is one UDP socket with its table of queries in flight by id.
type conn struct {
	udp     *net.UDPConn
	pc      net.PacketConn // when the network gave something else than *net.UDPConn
	read    func(ms []ipv4.Message) (int, error)
	ttl     func(oob []byte) int
	oobSize int
	mu      sync.Mutex
	slots   []*query
	nextID  uint16
}

// engine sends queries paced by a token bucket from a few sockets and
// matches every response to its query by id and question.
type engine struct {
	network *netx.Network
	timeout time.Duration
	limiter *rate.Limiter // nil: unlimited
	conns4  []*conn
	conns6  []*conn
	rr      int

	qmu     sync.Mutex
	queue   []*query
	qhead   int
	stopped bool
	wake    chan struct{}
	closing chan struct{}

	fifo chan *query

	sentN, recvN, garbageN, lateN, sendErrN atomic.Int64
	wg                                      sync.WaitGroup
}

// engineConfig configures newEngine.
type engineConfig struct {
	Network *netx.Network
	Timeout time.Duration
	Rate    int // queries per second; 0 unlimited
	Sockets int // per address family in use
	V4, V6  bool
}

func newEngine(ctx context.Context, cfg engineConfig) (*engine, error) {
	if cfg.Sockets <= 0 {
		cfg.Sockets = 4
	}
	e := &engine{
		network: cfg.Network,
		timeout: cfg.Timeout,
		wake:    make(chan struct{}, 1),
		closing: make(chan struct{}),
	}
	if cfg.Rate > 0 {
		burst := cfg.Rate / 50
		if burst < 1 {
			burst = 1
		}
		e.limiter = rate.NewLimiter(rate.Limit(cfg.Rate), burst)
	}
	open := func(network, laddr string, v6 bool) ([]*conn, error) {
		var cs []*conn
		for i := 0; i < cfg.Sockets; i++ {
			c, err := openConn(ctx, cfg.Network, network, laddr, v6)
			if err != nil {
				for _, c := range cs {
					c.close()
				}
				return nil, err
			}
			cs = append(cs, c)
		}
		return cs, nil
	}
	var err error
	if cfg.V4 {
		if e.conns4, err = open("udp4", "0.0.0.0:0", false); err != nil {
			return nil, err
		}
	}
	if cfg.V6 {
		if e.conns6, err = open("udp6", "[::]:0", true); err != nil {
			e.closeConns()
			return nil, err
		}
	}
	// Queries in flight are bounded by the fifo: at most half the ids of
	// each socket of the smaller family, so a free id is always near.
	per := len(e.conns4)
	if per == 0 || (len(e.conns6) > 0 && len(e.conns6) < per) {
		per = len(e.conns6)
	}
	e.fifo = make(chan *query, slotsPerConn*per)
	return e, nil
}

func openConn(ctx context.Context, n *netx.Network, network, laddr string, v6 bool) (*conn, error) {
	pc, err := n.Listen(ctx, network, laddr)
	if err != nil {
		return nil, fmt.Errorf("dns scan: open a UDP socket: %w", err)
	}
	c := &conn{slots: make([]*query, 1<<16), ttl: func([]byte) int { return -1 }}
	udp, ok := pc.(*net.UDPConn)
	if !ok {
		c.pc = pc
		c.read = func(ms []ipv4.Message) (int, error) {
			n, addr, err := pc.ReadFrom(ms[0].Buffers[0])
			if err != nil {
				return 0, err
			}
			ms[0].N, ms[0].NN, ms[0].Addr = n, 0, addr
			return 1, nil
		}
		return c, nil
	}
	c.udp = udp
	growReadBuffer(udp, 8<<20)
	if v6 {
		p := ipv6.NewPacketConn(udp)
		if p.SetControlMessage(ipv6.FlagHopLimit, true) == nil {
			c.oobSize = len(ipv6.NewControlMessage(ipv6.FlagHopLimit))
			c.ttl = func(oob []byte) int {
				var cm ipv6.ControlMessage
				if len(oob) == 0 || cm.Parse(oob) != nil {
					return -1
				}
				return cm.HopLimit
			}
		}
		c.read = func(ms []ipv4.Message) (int, error) { return p.ReadBatch(ms, 0) }
	} else {
		p := ipv4.NewPacketConn(udp)
		if p.SetControlMessage(ipv4.FlagTTL, true) == nil {
			c.oobSize = len(ipv4.NewControlMessage(ipv4.FlagTTL))
			c.ttl = func(oob []byte) int {
				var cm ipv4.ControlMessage
				if len(oob) == 0 || cm.Parse(oob) != nil {
					return -1
				}
				return cm.TTL
			}
		}
		c.read = func(ms []ipv4.Message) (int, error) { return p.ReadBatch(ms, 0) }
	}
	return c, nil
}

// growReadBuffer asks for a large receive buffer, so that a burst of
// answers is not dropped by the kernel while the receive loop is busy:
// SO_RCVBUFFORCE when privileged, else SO_RCVBUF up to the system's limit.
func growReadBuffer(udp *net.UDPConn, size int) {
	_ = udp.SetReadBuffer(size)
	if rc, err := udp.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, size)
		})
	}
}

func (c *conn) close() {
	if c.udp != nil {
		c.udp.Close()
	} else {
		c.pc.Close()
	}
}

func (c *conn) writeTo(b []byte, to netip.AddrPort) error {
	if c.udp != nil {
		_, err := c.udp.WriteToUDPAddrPort(b, to)
		return err
	}
	_, err := c.pc.WriteTo(b, net.UDPAddrFromAddrPort(to))
	return err
}

func (e *engine) closeConns() {
	for _, c := range e.conns4 {
		c.close()
	}
	for _, c := range e.conns6 {
		c.close()
	}
}

// start runs the sender, the receivers and the reaper until close.
func (e *engine) start(ctx context.Context) {
	for _, c := range append(append([]*conn{}, e.conns4...), e.conns6...) {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.receive(c)
		}()
	}
	reaped := make(chan struct{})
	go func() {
		defer close(reaped)
		e.reap()
	}()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.send(ctx)
		<-reaped
		e.closeConns() // ends the receivers
	}()
}

// wait blocks until every query handed to the engine has been completed.
func (e *engine) wait() { e.wg.Wait() }

// close tells the sender that no more queries will come once the queue is
// empty; queries already queued are still sent.
func (e *engine) close() { close(e.closing) }

// enqueue queues q for sending. It never blocks; it returns false when the
// scan has stopped (q will never be sent and done is not called).
func (e *engine) enqueue(q *query) bool {
	e.qmu.Lock()
	if e.stopped {
		e.qmu.Unlock()
		return false
	}
	e.queue = append(e.queue, q)
	e.qmu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	return true
}

// backlog returns the number of queries queued and not sent yet.
func (e *engine) backlog() int {
	e.qmu.Lock()
	defer e.qmu.Unlock()
	return len(e.queue) - e.qhead
}

func (e *engine) pop() *query {
	e.qmu.Lock()
	defer e.qmu.Unlock()
	if e.qhead == len(e.queue) {
		if e.qhead > 0 {
			e.queue, e.qhead = e.queue[:0], 0
		}
		return nil
	}
	q := e.queue[e.qhead]
	e.queue[e.qhead] = nil
	e.qhead++
	if e.qhead > 4096 && e.qhead*2 > len(e.queue) { // compact
		n := copy(e.queue, e.queue[e.qhead:])
		e.queue, e.qhead = e.queue[:n], 0
	}
	return q
}

// send is the sender loop: it paces queries with the token bucket, gives
// each a free id on a socket and sends it. On ctx's end, or on close with
// an empty queue, it stops; queries still queued complete with errStopped.
func (e *engine) send(ctx context.Context) {
	defer func() {
		e.qmu.Lock()
		e.stopped = true
		rest := e.queue[e.qhead:]
		e.queue, e.qhead = nil, 0
		e.qmu.Unlock()
		for _, q := range rest {
			q.err = errStopped
			q.deadline = time.Now()
			e.fifo <- q
		}
		close(e.fifo)
	}()
	msg := new(dns.Msg)
	buf := make([]byte, 512)
	closing := false
	for {
		q := e.pop()
		if q == nil {
			if closing {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-e.wake:
			case <-e.closing:
				closing = true
			}
			continue
		}
		if ctx.Err() != nil {
			e.enqueueFront(q)
			return
		}
		if e.limiter != nil {
			if err := e.limiter.Wait(ctx); err != nil {
				e.enqueueFront(q)
				return
			}
		}
		e.sendOne(q, msg, buf)
	}
}

func (e *engine) enqueueFront(q *query) {
	e.qmu.Lock()
	e.queue = append([]*query{q}, e.queue[e.qhead:]...)
	e.qhead = 0
	e.qmu.Unlock()
}

func (e *engine) pick(v6 bool) *conn {
	cs := e.conns4
	if v6 {
		cs = e.conns6
	}
	e.rr++
	return cs[e.rr%len(cs)]
}

func (e *engine) sendOne(q *query, msg *dns.Msg, buf []byte) {
	c := e.pick(q.server.Addr().Is6() && !q.server.Addr().Is4In6())
	c.mu.Lock()
	for c.slots[c.nextID] != nil {
		c.nextID++
	}
	q.id = c.nextID
	c.nextID++
	q.c = c
	c.slots[q.id] = q
	q.sent = time.Now()
	q.deadline = q.sent.Add(e.timeout)
	c.mu.Unlock()

	msg.Id = q.id
	msg.RecursionDesired = true
	msg.Question = append(msg.Question[:0], dns.Question{Name: q.name, Qtype: q.qtype, Qclass: dns.ClassINET})
	wire, err := msg.PackBuffer(buf)
	if err == nil {
		for try := 0; try < 5; try++ {
			if err = c.writeTo(wire, q.server); err == nil || !errors.Is(err, syscall.ENOBUFS) && !errors.Is(err, syscall.EAGAIN) {
				break
			}
			time.Sleep(time.Millisecond << try) // the kernel's queue is full: back off
		}
	}
	if err != nil {
		e.sendErrN.Add(1)
		q.err = fmt.Errorf("send to %s: %w", q.server, err)
		c.mu.Lock()
		c.slots[q.id] = nil
		c.mu.Unlock()
	} else {
		e.sentN.Add(1)
	}
	e.fifo <- q
}

// reapSlack is how early a query may be completed before its deadline.
const reapSlack = 2 * time.Millisecond

// reap completes queries in the order they were sent (their deadlines are
// in the same order), each once its window has closed.
func (e *engine) reap() {
	var timer *time.Timer
	for q := range e.fifo {
		// A little slack lets one wake-up complete the queries sent in
		// the same millisecond or two, instead of one wake-up each.
		if d := time.Until(q.deadline) - reapSlack; d > 0 {
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			<-timer.C
		}
		if c := q.c; c != nil && q.err == nil {
			c.mu.Lock()
			if c.slots[q.id] == q {
				c.slots[q.id] = nil
			}
			c.mu.Unlock()
		}
		q.done(q)
	}
}

// receive is one socket's receive loop: every datagram that is not a
// response to a query in flight (by id, question and server) is counted as
// garbage and dropped.
func (e *engine) receive(c *conn) {
	ms := make([]ipv4.Message, batch)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 4096)}
		if c.oobSize > 0 {
			ms[i].OOB = make([]byte, c.oobSize)
		}
	}
	if c.udp == nil {
		ms = ms[:1]
	}
	var m dns.Msg
	for {
		n, err := c.read(ms)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// ECONNREFUSED and the like from ICMP: nothing to match.
			continue
		}
		now := time.Now()
		for i := 0; i < n; i++ {
			e.recvN.Add(1)
			e.match(c, &m, ms[i].Buffers[0][:ms[i].N], ms[i].Addr, c.ttl(ms[i].OOB[:ms[i].NN]), now)
		}
	}
}

func addrPortOf(a net.Addr) (netip.AddrPort, bool) {
	switch v := a.(type) {
	case *net.UDPAddr:
		ap := v.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
	return netip.AddrPort{}, false
}

func (e *engine) match(c *conn, m *dns.Msg, wire []byte, from net.Addr, ttl int, now time.Time) {
	src, ok := addrPortOf(from)
	if !ok || m.Unpack(wire) != nil || !m.Response || len(m.Question) != 1 {
		e.garbageN.Add(1)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.slots[m.Id]
	if q == nil {
		e.lateN.Add(1)
		return
	}
	qq := m.Question[0]
	if qq.Qtype != q.qtype || !strings.EqualFold(qq.Name, q.name) || src.Addr() != q.server.Addr().Unmap() {
		e.garbageN.Add(1)
		return
	}
	if len(q.responses) >= maxResponses {
		return
	}
	q.responses = append(q.responses, convert(m, src, ttl, now.Sub(q.sent), e.network))
}

// maxResponses caps the responses recorded for one query: a censor may send
// several, a flood more.
const maxResponses = 8

// maxAnswers caps the answers recorded from one response.
const maxAnswers = 32

func convert(m *dns.Msg, from netip.AddrPort, ttl int, after time.Duration, n *netx.Network) Response {
	r := Response{
		From:      from.String(),
		Rcode:     strings.ToLower(dns.RcodeToString[m.Rcode]),
		Answers:   []Answer{},
		IPTTL:     ttl,
		ArrivedMS: float64(after.Microseconds()) / 1000,
	}
	if r.Rcode == "" {
		r.Rcode = fmt.Sprintf("rcode%d", m.Rcode)
	}
	for _, rr := range m.Answer {
		if len(r.Answers) == maxAnswers {
			break
		}
		h := rr.Header()
		a := Answer{Name: strings.TrimSuffix(strings.ToLower(h.Name), "."), Type: dns.TypeToString[h.Rrtype], TTL: h.Ttl}
		switch v := rr.(type) {
		case *dns.A:
			ip, _ := netip.AddrFromSlice(v.A.To4())
			a.Data = ip.String()
			a.Bogon = n.IsBogon(ip)
		case *dns.AAAA:
			ip, _ := netip.AddrFromSlice(v.AAAA)
			a.Data = ip.String()
			a.Bogon = n.IsBogon(ip)
		case *dns.CNAME:
			a.Data = strings.TrimSuffix(strings.ToLower(v.Target), ".")
		default:
			a.Data = strings.TrimPrefix(rr.String(), h.String())
		}
		r.Answers = append(r.Answers, a)
	}
	return r
}

// Stats are the engine's counters.
type Stats struct {
	Sent, Received, Garbage, Late, SendErrors int64
}

func (e *engine) stats() Stats {
	return Stats{Sent: e.sentN.Load(), Received: e.recvN.Load(), Garbage: e.garbageN.Load(), Late: e.lateN.Load(), SendErrors: e.sendErrN.Load()}
}
