package lab

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/firewatch/firewatch/internal/lab/nsnet"
	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/lab/services"
)

// Check is the outcome of one live health check.
type Check struct {
	Part   string `json:"part"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// DialIn dials TCP to addr (an IP address and port: names are refused, as
// resolving them would use the host's resolver) from namespace ns.
func DialIn(ns, addr string, timeout time.Duration) (net.Conn, error) {
	if err := literal(addr); err != nil {
		return nil, err
	}
	var c net.Conn
	err := InNetns(ns, func() error {
		var err error
		c, err = net.DialTimeout("tcp", addr, timeout)
		return err
	})
	return c, err
}

// QueryIn sends one DNS query (type A) for name to server from namespace ns.
func QueryIn(ns, server, name string, timeout time.Duration) (*dns.Msg, error) {
	if err := literal(server); err != nil {
		return nil, err
	}
	var conn net.Conn
	if err := InNetns(ns, func() error {
		var err error
		conn, err = net.DialTimeout("udp", server, timeout)
		return err
	}); err != nil {
		return nil, err
	}
	c := &dns.Client{Timeout: timeout}
	dc := &dns.Conn{Conn: conn}
	defer dc.Close()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	r, _, err := c.ExchangeWithConn(m, dc)
	return r, err
}

// literal refuses an address whose host is not an IP address.
func literal(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("lab: %q is not an IP address (dial lab hosts by address)", host)
	}
	return nil
}

// HTTPClientIn returns an HTTP client whose connections are made from ns.
func HTTPClientIn(ns string, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return DialIn(ns, addr, timeout)
		},
		DisableKeepAlives: true,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// alive reports whether pid runs.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	// A zombie (exited, not yet reaped) is not alive.
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// Health runs the live checks of a lab: namespaces, daemons, every
// service of every host (from the outside vantage), both resolvers and
// the control.
func Health(ctx context.Context, st *State, sc *scenario.Scenario) []Check {
	var out []Check
	add := func(part string, err error) {
		c := Check{Part: part, OK: err == nil}
		if err != nil {
			c.Detail = err.Error()
		}
		out = append(out, c)
	}
	have, _ := nsnet.List(st.Names().Prefix())
	for _, ns := range st.Namespaces {
		var err error
		if !contains(have, ns) {
			err = fmt.Errorf("missing")
		}
		add("namespace "+ns, err)
	}
	roles := make([]string, 0, len(st.Daemons))
	for r := range st.Daemons {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	for _, r := range roles {
		d := st.Daemons[r]
		var err error
		if !alive(d.PID) {
			err = fmt.Errorf("pid %d not running (log %s)", d.PID, d.Log)
		}
		add(fmt.Sprintf("daemon %s (pid %d in %s)", r, d.PID, d.Namespace), err)
		if r == RoleCensor && err == nil {
			if _, serr := os.Stat(filepath.Join(filepath.Dir(d.Log), censorReadyFile)); serr != nil {
				err = fmt.Errorf("rules not in place yet (log %s)", d.Log)
			}
			add("censor rules on "+d.Namespace, err)
		}
	}
	const t = 2 * time.Second
	probeName := ""
	if sc != nil {
		for _, h := range sc.Hosts {
			if probeName == "" && len(h.Names) > 0 {
				probeName = h.Names[0]
			}
			// A host the outside cannot reach is checked from the
			// internet itself, and checked to be out of the outside's reach.
			from, note := st.Names().Outside, ""
			if h.ControlUnreachable {
				from, note = st.Names().Net, ", from the internet"
			}
			for _, svc := range h.Services {
				addr := net.JoinHostPort(h.IP.String(), strconv.Itoa(services.Ports[svc]))
				add(fmt.Sprintf("%s %s (%s%s)", h.Names[0], svc, addr, note), reach(from, addr, svc, h.Names[0], t))
			}
			if h.ControlUnreachable && len(h.Services) > 0 {
				svc := h.Services[0]
				addr := net.JoinHostPort(h.IP.String(), strconv.Itoa(services.Ports[svc]))
				var err error
				if reach(st.Names().Outside, addr, svc, h.Names[0], unreachableWait) == nil {
					err = fmt.Errorf("%s answers the outside vantage: the drop of table %s is not in place", svc, controlFaultTable)
				}
				add(fmt.Sprintf("%s out of the outside's reach (control: unreachable)", h.Names[0]), err)
			}
		}
	}
	if probeName == "" {
		probeName = "example.invalid"
	}
	dnsCheck := func(ns, server string, t time.Duration) error {
		r, err := QueryIn(ns, server, probeName, t)
		if err != nil {
			return err
		}
		if r.Rcode == dns.RcodeServerFailure {
			return fmt.Errorf("SERVFAIL for %s", probeName)
		}
		return nil
	}
	add("authoritative DNS "+st.Resolvers.Authoritative+" (from outside)", dnsCheck(st.Names().Outside, st.Resolvers.Authoritative, t))
	add("public resolver "+st.Resolvers.Public+" (from outside)", dnsCheck(st.Names().Outside, st.Resolvers.Public, t))
	ispT := t // a slow ISP resolver (resolver_delay) answers that much later
	if sc != nil {
		ispT += ISPResolverDelay(sc)
	}
	add("ISP resolver "+st.Resolvers.ISP+" (from inside, upstream across the censor)", dnsCheck(st.Names().Inside, st.Resolvers.ISP, ispT))
	switch {
	case st.ControlDown:
		var err error
		if checkControl(st.Names().Outside, st.ControlURL) == nil {
			err = fmt.Errorf("something answers there")
		}
		add("control "+st.ControlURL+" down (control: down): nothing listens", err)
	case st.ControlURL != "":
		add("control "+st.ControlURL, checkControl(st.Names().Outside, st.ControlURL))
	}
	return out
}

// unreachableWait is how long a health check waits for an answer that must
// not come (a host the outside cannot reach): a lab's answers come within
// milliseconds.
const unreachableWait = 300 * time.Millisecond

// reach connects from namespace ns to a host's service at addr (a DNS
// query of name for dns and dns-open).
func reach(ns, addr, svc, name string, t time.Duration) error {
	if svc == "dns" || svc == scenario.DNSOpen {
		_, err := QueryIn(ns, addr, name, t)
		return err
	}
	c, err := DialIn(ns, addr, t)
	if err == nil {
		c.Close()
	}
	return err
}

// controlListen is where the control listens: ControlPort on OutsideAddr.
func controlListen() string { return net.JoinHostPort(OutsideAddr.String(), strconv.Itoa(ControlPort)) }

func checkControl(ns, url string) error {
	resp, err := HTTPClientIn(ns, 2*time.Second).Get(url + "/metrics")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Failed returns the checks that failed.
func Failed(cs []Check) []Check {
	var bad []Check
	for _, c := range cs {
		if !c.OK {
			bad = append(bad, c)
		}
	}
	return bad
}

func waitReady(ctx context.Context, st *State, sc *scenario.Scenario, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		bad := Failed(Health(ctx, st, sc))
		if len(bad) == 0 {
			return nil
		}
		for role, d := range st.Daemons {
			if !alive(d.PID) {
				return fmt.Errorf("lab: daemon %s in %s exited: %s", role, d.Namespace, tail(d.Log, 10))
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			var lines []string
			for _, c := range bad {
				lines = append(lines, c.Part+": "+c.Detail)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("lab: not ready after %v:\n  %s", timeout, strings.Join(lines, "\n  "))
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return path + ": " + err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return path + ":\n    " + strings.Join(lines, "\n    ")
}

func startControl(ctx context.Context, dir, exe string, st *State) (string, Daemon, error) {
	listen := controlListen()
	d, err := startDaemon(dir, st.Names(), st.Names().Outside, RoleControl, exe, "control", "--listen", listen, "--lab",
		"--resolver", "udp://"+st.Resolvers.Public, "--ca-file", st.Trust.Outside)
	if err != nil {
		return "", Daemon{}, err
	}
	url := "http://" + listen
	deadline := time.Now().Add(10 * time.Second)
	for {
		if !alive(d.PID) {
			return "", Daemon{}, fmt.Errorf("exited: %s", tail(d.Log, 5))
		}
		if err := checkControl(st.Names().Outside, url); err == nil {
			return url, d, nil
		} else if time.Now().After(deadline) || ctx.Err() != nil {
			killPID(d.PID)
			return "", Daemon{}, fmt.Errorf("no answer on %s: %v", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
