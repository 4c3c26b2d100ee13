package censor

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/lab/nsnet"
	"github.com/firewatch/firewatch/internal/lab/pki"
	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/miekg/dns"
)

// The namespace tests build this chain (prefix fwct-, TEST-NET only):
//
//	fwct-c (client 198.51.100.2) -- fwct-r (censor: r0 198.51.100.1, r1 192.0.2.1) -- fwct-s (servers 192.0.2.2, 203.0.113.0/24 on lo)
const (
	nsClient = "fwct-c"
	nsCensor = "fwct-r"
	nsServer = "fwct-s"
	envLab   = "FIREWATCH_LAB_TESTS"
	envChild = "FWCT_CENSOR_CHILD"
)

// labScenario is the scenario the namespace tests run the censor with.
const labScenario = `name: censor-test
hosts:
  - {names: [dns.example], ip: 203.0.113.53, services: [dns]}
  - {names: [fast-dns.example], ip: 203.0.113.55, services: [dns]}
  - {names: [nodns.example], ip: 203.0.113.54, services: [http]}
  - {names: [www.facebook.com, facebook.com], ip: 203.0.113.40, services: [http]}
  - {names: [unrelated.example], ip: 203.0.113.50, services: [http]}
  - {names: [www.youtube.com, youtube.com], ip: 203.0.113.60, services: [http]}
  - {names: [replace.example], ip: 203.0.113.64, services: [http]}
  - {names: [mail.example], ip: 203.0.113.20, services: [imap, imaps, https]}
  - {names: [www.example.org], ip: 203.0.113.61, services: [http]}
  - {names: [www.example.net], ip: 203.0.113.62, services: [http]}
  - {names: [warning.example], ip: 203.0.113.63, services: [http]}
  - {names: [slow.example], ip: 203.0.113.70, services: [http]}
  - {names: [fast.example], ip: 203.0.113.71, services: [http]}
  - {names: [blackhole.example], ip: 203.0.113.30, services: [http]}
  - {names: [www.falun.example], ip: 203.0.113.90, services: [http, https]}
  - {names: [clean.example], ip: 203.0.113.91, services: [http, https]}
  - {names: [flaky.example], ip: 203.0.113.80, services: [http]}
  - {names: [www.dropme.example], ip: 203.0.113.92, services: [http, https]}
  - {names: [www.cutdns.example, www.quietdns.example], ip: 203.0.113.93, services: [http]}
  - {names: [mitm443.example, falun.mitm443.example], ip: 203.0.113.21, services: [https]}
  - {names: [www.plainproxy.example], ip: 203.0.113.65, services: [http]}
  - {names: [www.injproxy.example], ip: 203.0.113.66, services: [http]}
censor:
  - dns-inject: {names: [facebook.com], answers: [203.0.113.50], mode: race}
  - dns-inject: {names: [youtube.com], rcode: nxdomain}
  - dns-inject: {names: [replace.example], answers: [127.0.0.2], mode: replace}
  - drop: {ips: [203.0.113.30]}
  - reset: {keywords: [falun], where: [http, sni]}
  - keyword-drop: {keywords: [dropme], where: [http, sni]}
  - dns-tcp: {names: [www.cutdns.example]}
  - dns-tcp: {names: ["=www.quietdns.example"], action: drop}
  - tls-mitm: {ips: [203.0.113.20], ports: [993, 143], ca: rogue}
  - tls-mitm: {ips: [203.0.113.21], ports: [443], ca: rogue-trusted}
  - http-redirect: {hosts: [www.example.org], to: "http://warning.example/"}
  - http-blockpage: {hosts: [www.example.net], status: 451, title: "Blocked", body: "Not here"}
  - http-proxy: {hosts: [www.plainproxy.example]}
  - http-proxy: {hosts: [www.injproxy.example], inject: "<script>injected()</script>"}
  - throttle: {ips: [203.0.113.70], rate: 400kbps}
  - drop: {ips: [203.0.113.80], ports: [8080], probability: 0.5}
`

const genuineAnswer = "203.0.113.99"

// fixture is the shared mini topology of one test binary.
type fixture struct {
	dir            string
	public, rogue  *pki.CA
	rogueTrusted   *pki.CA
	censor         *exec.Cmd
	censorLog      *os.File
	err            error
	bigFile        []byte
	closers        []io.Closer
	stopCensorOnce sync.Once
}

var (
	fixOnce sync.Once
	fix     *fixture
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(censorChild())
	}
	code := m.Run()
	if fix != nil {
		fix.teardown()
	}
	os.Exit(code)
}

// censorChild runs the censor inside the namespace it was started in.
func censorChild() int {
	dir := os.Getenv(envChild)
	s, err := scenario.Load(filepath.Join(dir, "scenario.yaml"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	rogue, err := pki.LoadOrCreate(dir, "rogue")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	rogueTrusted, err := pki.LoadOrCreate(dir, "rogue-trusted")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signalContext()
	defer stop()
	err = Run(ctx, Config{
		Rules: s.Censor, Hosts: s.Hosts, InsideIface: "r0", OutsideIface: "r1",
		InsidePrefixes: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")},
		RogueCA:        rogue, RogueTrustedCA: rogueTrusted, Seed: 1, Log: os.Stderr,
		Ready: func() { fmt.Println("ready") },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-ch; cancel() }()
	return ctx, cancel
}

// removeLeftovers kills the processes left in fwct- namespaces (a censor of a
// crashed run) and deletes the namespaces.
func removeLeftovers() {
	nss, _ := nsnet.List("fwct-")
	for _, ns := range nss {
		pids, _ := nsnet.PIDs(ns)
		for _, pid := range pids {
			if pid > 1 && pid != os.Getpid() {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		nsnet.Delete(ns)
	}
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), "fwct-*"))
	for _, d := range old {
		os.RemoveAll(d)
	}
}

// labFixture brings the namespaces up once per test binary, or skips.
func labFixture(t testing.TB) *fixture {
	t.Helper()
	if os.Getenv(envLab) == "" {
		t.Skipf("namespace test: set %s=1 (needs root) to run it", envLab)
	}
	if os.Geteuid() != 0 {
		t.Skip("namespace test: needs root")
	}
	fixOnce.Do(func() {
		fix = &fixture{}
		fix.err = fix.setup()
	})
	if fix.err != nil {
		t.Fatalf("lab setup: %v", fix.err)
	}
	return fix
}

func (f *fixture) setup() error {
	removeLeftovers()
	dir, err := os.MkdirTemp("", "fwct-")
	if err != nil {
		return err
	}
	f.dir = dir
	if err := buildMiniTopology(); err != nil {
		return err
	}
	if f.public, err = pki.LoadOrCreate(dir, "public"); err != nil {
		return err
	}
	if f.rogue, err = pki.LoadOrCreate(dir, "rogue"); err != nil {
		return err
	}
	if f.rogueTrusted, err = pki.LoadOrCreate(dir, "rogue-trusted"); err != nil {
		return err
	}
	if err := f.startServers(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "scenario.yaml"), []byte(labScenario), 0o644); err != nil {
		return err
	}
	if _, err := scenario.Parse("scenario.yaml", []byte(labScenario)); err != nil {
		return err
	}
	return f.startCensor()
}

func (f *fixture) startCensor() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(f.dir, "censor.log"))
	if err != nil {
		return err
	}
	f.censorLog = logf
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envChild+"="+f.dir)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	// A censor outliving a crashed test is killed by the next run's removeLeftovers.
	if err := nsnet.Start(nsCensor, nil, cmd); err != nil {
		return err
	}
	f.censor = cmd
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- strings.TrimSpace(line) == "ready"
		io.Copy(io.Discard, out)
	}()
	select {
	case ok := <-ready:
		if !ok {
			b, _ := os.ReadFile(logf.Name())
			return fmt.Errorf("censor did not start: %s", b)
		}
	case <-time.After(20 * time.Second):
		return fmt.Errorf("censor did not start within 20s")
	}
	return nil
}

func (f *fixture) stopCensor() {
	f.stopCensorOnce.Do(func() {
		if f.censor == nil {
			return
		}
		f.censor.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { f.censor.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			f.censor.Process.Kill()
			<-done
		}
	})
}

func (f *fixture) teardown() {
	f.stopCensor()
	for _, c := range f.closers {
		c.Close()
	}
	if f.censorLog != nil {
		f.censorLog.Close()
		if os.Getenv("FWCT_LOG") != "" {
			b, _ := os.ReadFile(f.censorLog.Name())
			os.Stderr.Write(b)
		}
	}
	removeLeftovers()
	if f.dir != "" {
		os.RemoveAll(f.dir)
	}
}

// inNS runs fn on an OS thread switched into namespace ns; sockets created
// by fn stay in that namespace.
func inNS(ns string, fn func() error) error { return nsnet.Do(ns, fn) }

func listenIn(ns, addr string) (net.Listener, error) {
	var ln net.Listener
	err := inNS(ns, func() (err error) { ln, err = net.Listen("tcp4", addr); return })
	return ln, err
}

func dialIn(ctx context.Context, ns, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNS(ns, func() (err error) {
		d := net.Dialer{}
		c, err = d.DialContext(ctx, network, addr)
		return
	})
	return c, err
}

// clientHTTP is an HTTP client dialing from the client namespace, not following redirects.
func clientHTTP() *http.Client {
	return &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return dialIn(ctx, nsClient, "tcp4", addr)
			},
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (f *fixture) startServers() error {
	f.bigFile, _ = io.ReadAll(scenario.FileBytes("big", 1<<20))
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "genuine %s\n", r.Host)
	})
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<html><body><p>genuine %s</p></body></html>\n", r.Host)
	})
	mux.HandleFunc("/sink", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n := len(f.bigFile)
		if s := r.URL.Query().Get("n"); s != "" {
			fmt.Sscan(s, &n)
		}
		w.Header().Set("Content-Length", fmt.Sprint(n))
		for n > 0 {
			k := min(n, len(f.bigFile))
			if _, err := w.Write(f.bigFile[:k]); err != nil {
				return
			}
			n -= k
		}
	})
	// HTTP on every 203.0.113.x (lo holds the /24)
	ln, err := listenIn(nsServer, "0.0.0.0:80")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	f.closers = append(f.closers, hs)
	// HTTPS and implicit-TLS IMAP with certificates of the public CA
	tlsCfg := &tls.Config{GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
		name := hi.ServerName
		if name == "" {
			name = "mail.example"
		}
		c, err := f.public.Leaf([]string{name}, nil)
		return &c, err
	}}
	ln443, err := listenIn(nsServer, "0.0.0.0:443")
	if err != nil {
		return err
	}
	hss := &http.Server{Handler: mux, ErrorLog: log.New(io.Discard, "", 0)}
	go hss.Serve(tls.NewListener(ln443, tlsCfg))
	f.closers = append(f.closers, hss)
	ln993, err := listenIn(nsServer, "0.0.0.0:993")
	if err != nil {
		return err
	}
	f.closers = append(f.closers, ln993)
	go serveLoop(ln993, func(c net.Conn) { imapSession(tls.Server(c, tlsCfg), nil) })
	ln143, err := listenIn(nsServer, "0.0.0.0:143")
	if err != nil {
		return err
	}
	f.closers = append(f.closers, ln143)
	go serveLoop(ln143, func(c net.Conn) { imapSession(c, tlsCfg) })
	// DNS: a slow resolver (50 ms, so that a forged answer wins the race) and a fast one
	for _, s := range []struct {
		addr  string
		delay time.Duration
	}{{"203.0.113.53:53", 50 * time.Millisecond}, {"203.0.113.55:53", 0}} {
		var pc net.PacketConn
		if err := inNS(nsServer, func() (err error) { pc, err = net.ListenPacket("udp4", s.addr); return }); err != nil {
			return err
		}
		f.closers = append(f.closers, pc)
		go serveDNS(pc, s.delay)
	}
	// DNS over TCP on the fast resolver's address (dns-tcp rules)
	lnDNS, err := listenIn(nsServer, "203.0.113.55:53")
	if err != nil {
		return err
	}
	f.closers = append(f.closers, lnDNS)
	go serveLoop(lnDNS, serveDNSTCP)
	return nil
}

// serveDNSTCP answers the A queries of one DNS-over-TCP connection with
// genuineAnswer until the client closes it.
func serveDNSTCP(c net.Conn) {
	defer c.Close()
	co := &dns.Conn{Conn: c}
	for {
		q, err := co.ReadMsg()
		if err != nil || len(q.Question) != 1 {
			return
		}
		var r dns.Msg
		r.SetReply(q)
		if q.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR(q.Question[0].Name + " 60 IN A " + genuineAnswer)
			r.Answer = append(r.Answer, rr)
		}
		if co.WriteMsg(&r) != nil {
			return
		}
	}
}

func serveLoop(ln net.Listener, h func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go h(c)
	}
}

// imapSession is a tiny IMAP server: greeting, STARTTLS (when cfg is set),
// NOOP and LOGOUT.
func imapSession(c net.Conn, cfg *tls.Config) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, "* OK IMAP4rev1 genuine ready\r\n")
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			io.WriteString(c, "* BAD\r\n")
			continue
		}
		switch strings.ToUpper(f[1]) {
		case "STARTTLS":
			if cfg == nil {
				io.WriteString(c, f[0]+" BAD already TLS\r\n")
				continue
			}
			io.WriteString(c, f[0]+" OK Begin TLS negotiation now\r\n")
			tc := tls.Server(c, cfg)
			if tc.Handshake() != nil {
				return
			}
			c, r, cfg = tc, bufio.NewReader(tc), nil
		case "LOGOUT":
			io.WriteString(c, "* BYE\r\n"+f[0]+" OK LOGOUT completed\r\n")
			return
		default:
			io.WriteString(c, f[0]+" OK "+strings.ToUpper(f[1])+" genuine\r\n")
		}
	}
}

// serveDNS answers every A query with genuineAnswer after delay.
func serveDNS(pc net.PacketConn, delay time.Duration) {
	buf := make([]byte, 1500)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var q dns.Msg
		if q.Unpack(buf[:n]) != nil || len(q.Question) != 1 {
			continue
		}
		var r dns.Msg
		r.SetReply(&q)
		if q.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR(q.Question[0].Name + " 60 IN A " + genuineAnswer)
			r.Answer = append(r.Answer, rr)
		}
		out, _ := r.Pack()
		if delay == 0 {
			pc.WriteTo(out, addr)
			continue
		}
		time.AfterFunc(delay, func() { pc.WriteTo(out, addr) })
	}
}

// buildMiniTopology builds the three namespaces of the tests through netlink.
func buildMiniTopology() error {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	for _, ns := range []string{nsClient, nsCensor, nsServer} {
		if err := nsnet.Add(ns); err != nil {
			return err
		}
	}
	if err := nsnet.AddVeth(nsnet.Veth{NS: nsClient, Iface: "c0", Addr: p("198.51.100.2/24")}, nsnet.Veth{NS: nsCensor, Iface: "r0", Addr: p("198.51.100.1/24")}); err != nil {
		return err
	}
	if err := nsnet.AddVeth(nsnet.Veth{NS: nsCensor, Iface: "r1", Addr: p("192.0.2.1/24")}, nsnet.Veth{NS: nsServer, Iface: "s0", Addr: p("192.0.2.2/24")}); err != nil {
		return err
	}
	if err := nsnet.AddAddr(nsServer, "lo", p("203.0.113.0/24")); err != nil {
		return err
	}
	routes := map[string][]nsnet.Route{
		nsClient: {{Dst: p("0.0.0.0/0"), Via: a("198.51.100.1")}},
		nsServer: {{Dst: p("0.0.0.0/0"), Via: a("192.0.2.1")}},
		nsCensor: {{Dst: p("203.0.113.0/24"), Via: a("192.0.2.2")}},
	}
	for ns, rs := range routes {
		if err := nsnet.ReplaceRoutes(ns, rs); err != nil {
			return err
		}
	}
	return nsnet.Sysctls(nsCensor, map[string]string{"net/ipv4/ip_forward": "1"})
}
