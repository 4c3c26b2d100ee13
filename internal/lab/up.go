package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/firewatch/firewatch/internal/addrclass"
	"github.com/firewatch/firewatch/internal/lab/nsnet"
	"github.com/firewatch/firewatch/internal/lab/scenario"
)

// Options configure Up.
type Options struct {
	// Scenario is the scenario file.
	Scenario string
	// Name is the lab's name, the prefix of its namespaces and interfaces;
	// "" means DefaultName.
	Name string
	// StateDir is where state, logs and trust files go; "" means StateDir(Name).
	StateDir string
	// Exe is the firewatch binary started (as `Exe lab daemon ROLE ...`)
	// inside the namespaces; "" means the running executable.
	Exe string
	// Control starts `Exe control ...` in the outside vantage. A control that
	// fails to start is reported in the status, not fatal.
	Control bool
	// Seed seeds the censor's random choices (probability rules); 0 means
	// the scenario's seed, or 1 when it gives none.
	Seed int64
	// Log receives progress lines; nil discards.
	Log io.Writer
}

// ErrNeedRoot is returned when the process may not create namespaces.
var ErrNeedRoot = errors.New("firewatch lab needs root (or CAP_NET_ADMIN): run with sudo")

// CheckPrivileges returns ErrNeedRoot unless the process runs as root or
// holds CAP_NET_ADMIN and CAP_SYS_ADMIN.
func CheckPrivileges() error {
	if os.Geteuid() == 0 {
		return nil
	}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return ErrNeedRoot
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			const netAdmin, sysAdmin = 1 << 12, 1 << 21
			if err == nil && caps&netAdmin != 0 && caps&sysAdmin != 0 {
				return nil
			}
		}
	}
	return ErrNeedRoot
}

// reserved are lab infrastructure addresses no scenario host may take.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("198.51.100.0/27"),
	netip.MustParsePrefix("192.0.2.53/32"),
	netip.MustParsePrefix("192.0.2.54/32"),
	netip.MustParsePrefix("192.0.2.64/30"),
}

// CheckScenario refuses scenarios whose hosts would collide with the lab's
// own addresses or leave TEST-NET.
func CheckScenario(path string, s *scenario.Scenario) error {
	for _, h := range s.Hosts {
		if h.OpenResolver() && slices.Contains(scenario.OpenResolverAddrs, h.IP) && InsidePrefix.Contains(h.IP) {
			continue // an open resolver inside: a free address of the inside network
		}
		for _, ip := range h.IPs() {
			if !addrclass.IsTestNet(ip) {
				return fmt.Errorf("%s:%d: host %v: address %v is not in TEST-NET (%s)", path, h.Line, h.Names, ip, addrclass.TestNetList(", "))
			}
			for _, p := range reserved {
				if p.Contains(ip) {
					return fmt.Errorf("%s:%d: host %v: address %v is reserved for the lab's own links and resolvers (%v); use 203.0.113.0/24", path, h.Line, h.Names, ip, p)
				}
			}
		}
	}
	return nil
}

func (o *Options) name() string {
	if o.Name == "" {
		return DefaultName
	}
	return o.Name
}

func (o *Options) stateDir() string {
	if o.StateDir == "" {
		return StateDir(o.name())
	}
	return o.StateDir
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// Up builds the lab from the scenario and returns its state once every part
// answers. On any failure (or when ctx is cancelled) it removes everything it
// created.
func Up(ctx context.Context, o Options) (st *State, err error) {
	if err := CheckName(o.name()); err != nil {
		return nil, err
	}
	if err := CheckPrivileges(); err != nil {
		return nil, err
	}
	sc, err := scenario.Load(o.Scenario)
	if err != nil {
		return nil, err
	}
	if err := CheckScenario(o.Scenario, sc); err != nil {
		return nil, err
	}
	if o.Seed == 0 {
		o.Seed = sc.Seed
		if o.Seed == 0 {
			o.Seed = 1
		}
	}
	dir := o.stateDir()
	names := NamesFor(o.name())
	if _, err := LoadState(dir); err == nil {
		return nil, fmt.Errorf("lab %s is already up (state in %s): run `firewatch lab down --name %s` first, or choose another --name", names.Lab, dir, names.Lab)
	}
	if left := names.existing(); len(left) > 0 {
		return nil, fmt.Errorf("leftovers of lab %s exist (%s): run `firewatch lab down --name %s` first, or choose another --name", names.Lab, strings.Join(left, ", "), names.Lab)
	}
	exe := o.Exe
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("lab: own executable: %w", err)
		}
	}
	abs, err := filepath.Abs(o.Scenario)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			// Tear down with a fresh context: ctx may be the cancelled one.
			dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if derr := Down(dctx, names.Lab, dir); derr != nil {
				err = fmt.Errorf("%w (and cleaning up: %v)", err, derr)
			}
			st = nil
		}
	}()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: state dir: %w", err)
	}
	st = &State{
		Name:            names.Lab,
		Scenario:        abs,
		ScenarioName:    sc.Name,
		Created:         time.Now().UTC(),
		Namespaces:      names.Namespaces(),
		CensorNamespace: names.RouterAt(sc.CensorHop).NS,
		CensorHop:       names.RouterAt(sc.CensorHop).Hop,
		SilentHops:      sc.SilentHops,
		Hosts:           map[string][]string{},
		InsidePrefix:    InsidePrefix.String(),
		ProbeAddr:       ProbeAddr.String(),
		OutsideAddr:     OutsideAddr.String(),
		Resolvers: Resolvers{
			ISP:           ISPResolver.String() + ":53",
			Public:        PublicResolver.String() + ":53",
			Authoritative: Authoritative.String() + ":53",
		},
		Daemons: map[string]Daemon{},
		Seed:    o.Seed,
	}
	for _, h := range sc.Hosts {
		for _, ip := range h.IPs() {
			st.Hosts[ip.String()] = h.Names
		}
	}
	for _, l := range names.Links() {
		st.Links = append(st.Links, StateLink{A: l.ANS + "/" + l.AIf, AAddr: l.AAddr.String(), B: l.BNS + "/" + l.BIf, BAddr: l.BAddr.String(), What: l.Description})
	}
	// Save first, so that down finds a half-built lab.
	if err := st.Save(dir); err != nil {
		return nil, err
	}
	o.logf("lab: building topology")
	var ips, inside []netip.Addr
	for _, h := range sc.Hosts {
		if h.OpenResolver() {
			inside = append(inside, h.IP)
			continue
		}
		ips = append(ips, h.IPs()...)
	}
	if err := buildTopology(ctx, dir, names, ips, inside); err != nil {
		return nil, err
	}
	if err := silenceRouters(ctx, names, sc.SilentHops); err != nil {
		return nil, err
	}
	cut := unreachableFromOutside(sc)
	for _, a := range cut {
		st.ControlUnreachable = append(st.ControlUnreachable, a.String())
	}
	if err := cutOutside(ctx, names, cut); err != nil {
		return nil, err
	}
	o.logf("lab: trust files")
	if st.Trust, err = writeTrust(dir, sc.RogueTrusted()); err != nil {
		return nil, err
	}
	if st.ASNTable, err = writeASNTable(dir, sc.Network); err != nil {
		return nil, err
	}
	if err := st.Save(dir); err != nil {
		return nil, err
	}
	roles := []struct{ role, ns string }{
		{RoleServices, names.Net},
		{RoleISPResolver, names.Inside},
		{RoleCensor, st.CensorNamespace},
	}
	for _, r := range roles {
		d, err := startDaemon(dir, names, r.ns, r.role, exe, "lab", "daemon", r.role, "--state", dir)
		if err != nil {
			return nil, err
		}
		st.Daemons[r.role] = d
		if err := st.Save(dir); err != nil {
			return nil, err
		}
	}
	o.logf("lab: waiting for services")
	if err := waitReady(ctx, st, sc, 20*time.Second); err != nil {
		return nil, err
	}
	switch {
	case o.Control && sc.ControlDown:
		// The probe is given the URL; nothing listens there.
		st.ControlURL = "http://" + controlListen()
		st.ControlDown = true
		o.logf("lab: no control (the scenario says control: down): nothing listens at %s", st.ControlURL)
	case o.Control:
		o.logf("lab: starting the control")
		if url, d, err := startControl(ctx, dir, exe, st); err != nil {
			o.logf("lab: control not available: %v", err)
		} else {
			st.ControlURL = url
			st.Daemons[RoleControl] = d
		}
	}
	if err := st.Save(dir); err != nil {
		return nil, err
	}
	return st, ctx.Err()
}

// Daemon roles.
const (
	RoleServices    = "services"     // every host, the authoritative DNS and the public resolver (fwlab-net)
	RoleISPResolver = "isp-resolver" // the inside's recursive resolver (fwlab-inside)
	RoleCensor      = "censor"       // the censor (fwlab-r2 unless the scenario's censor_hop says)
	RoleControl     = "control"      // the control (fwlab-outside)
)

// buildTopology creates the namespaces, links, addresses and routes of the
// lab: hostIPs live on fwlab-net's lo, insideIPs (the open resolvers) on
// the inside link beside the ISP resolver.
func buildTopology(ctx context.Context, dir string, n Names, hostIPs, insideIPs []netip.Addr) error {
	for _, ns := range n.Namespaces() {
		if err := nsnet.Add(ns); err != nil {
			return err
		}
		if err := setSysctls(ns, n.isRouter(ns)); err != nil {
			return err
		}
	}
	for _, l := range n.Links() {
		if err := nsnet.AddVeth(nsnet.Veth{NS: l.ANS, Iface: l.AIf, Addr: l.AAddr}, nsnet.Veth{NS: l.BNS, Iface: l.BIf, Addr: l.BAddr}); err != nil {
			return err
		}
	}
	// The ISP resolver and the open resolvers: more addresses on the inside link.
	for _, a := range append([]netip.Addr{ISPResolver}, insideIPs...) {
		if err := nsnet.AddAddr(n.Inside, n.InsideIface, netip.PrefixFrom(a, InsidePrefix.Bits())); err != nil {
			return err
		}
	}
	for ns, addrs := range n.LocalAddrs(hostIPs) {
		ps := make([]netip.Prefix, len(addrs))
		for i, a := range addrs {
			ps[i] = netip.PrefixFrom(a, 32)
		}
		if err := nsnet.AddAddrs(ns, "lo", ps); err != nil {
			return err
		}
	}
	routes := map[string][]nsnet.Route{}
	var order []string
	for _, r := range n.Routes() {
		if _, ok := routes[r.NS]; !ok {
			order = append(order, r.NS)
		}
		routes[r.NS] = append(routes[r.NS], nsnet.Route{Dst: r.Dst, Via: r.Via})
	}
	for _, ns := range order {
		if err := nsnet.ReplaceRoutes(ns, routes[ns]); err != nil {
			return err
		}
	}
	if err := writeResolvConf(dir, n); err != nil {
		return err
	}
	return ctx.Err()
}

// setSysctls makes routers forward and answer with ICMP like real routers,
// without rate limits that would hide hops from a TTL-limited probe, and
// turns reverse-path filtering off (the censor writes forged packets).
func setSysctls(ns string, router bool) error {
	vals := map[string]string{
		"net/ipv4/icmp_ratelimit":         "0",
		"net/ipv4/conf/all/rp_filter":     "0",
		"net/ipv4/conf/default/rp_filter": "0",
		"net/ipv4/ip_forward":             "0",
	}
	if router {
		vals["net/ipv4/ip_forward"] = "1"
	}
	return nsnet.Sysctls(ns, vals)
}

// resolvConfPath is the resolv.conf of a vantage namespace in the state
// directory; programs started in the namespace see it as /etc/resolv.conf.
func resolvConfPath(dir, ns string) string { return filepath.Join(dir, "resolv.conf."+ns) }

func writeResolvConf(dir string, n Names) error {
	for ns, a := range n.resolvers() {
		body := fmt.Sprintf("# written by firewatch lab; removed by `firewatch lab down`\nnameserver %s\noptions timeout:2 attempts:2\n", a)
		if err := os.WriteFile(resolvConfPath(dir, ns), []byte(body), 0o644); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
	}
	return nil
}

// startIn starts cmd in namespace ns; in a vantage, /etc/resolv.conf names
// the vantage's resolver (what /etc/netns/NS/resolv.conf does for `ip netns exec`).
func startIn(dir string, n Names, ns string, cmd *exec.Cmd) error {
	var binds []nsnet.Bind
	if _, ok := n.resolvers()[ns]; ok {
		binds = append(binds, nsnet.Bind{Source: resolvConfPath(dir, ns), Target: "/etc/resolv.conf"})
	}
	return nsnet.Start(ns, binds, cmd)
}

// startDaemon starts args in namespace ns as a session leader with its
// output in DIR/ROLE.log.
func startDaemon(dir string, n Names, ns, role string, args ...string) (Daemon, error) {
	logPath := filepath.Join(dir, role+".log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return Daemon{}, fmt.Errorf("lab: %s log: %w", role, err)
	}
	defer lf.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = append(os.Environ(), "FIREWATCH_ROUTABLE="+Routable)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := startIn(dir, n, ns, cmd); err != nil {
		return Daemon{}, fmt.Errorf("lab: start %s: %w", role, err)
	}
	go func() { _ = cmd.Wait() }() // reap it if it dies while we run
	return Daemon{Namespace: ns, PID: cmd.Process.Pid, Log: logPath}, nil
}
