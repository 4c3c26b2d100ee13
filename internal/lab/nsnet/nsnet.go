// Package nsnet builds and removes named network namespaces, veth links,
// addresses and routes through netlink, and runs code or programs inside a
// namespace, so that the lab needs nothing from the host but the kernel (no
// ip(8), no nft(8)). Namespaces are named the way ip(8) names them (a bind
// mount in /run/netns), so `ip netns` sees them too where it is installed.
package nsnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Dir is where named namespaces are bind-mounted (as by ip(8)).
const Dir = "/run/netns"

// MaxIfaceName is the longest interface name the kernel takes (IFNAMSIZ-1).
const MaxIfaceName = 15

// Add creates the named network namespace with its loopback up. It fails
// when the name is taken.
func Add(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: current namespace: %w", err)
	}
	defer orig.Close()
	h, err := netns.NewNamed(name)
	if err != nil {
		// NewNamed may have switched the thread before failing.
		if serr := netns.Set(orig); serr != nil {
			return fmt.Errorf("netns %s: add: %w (and leaving it: %v)", name, err, serr)
		}
		runtime.UnlockOSThread()
		return fmt.Errorf("netns %s: add: %w", name, err)
	}
	h.Close()
	if err := netns.Set(orig); err != nil {
		// The thread stays locked and dies with the goroutine.
		return fmt.Errorf("netns %s: leave: %w", name, err)
	}
	runtime.UnlockOSThread()
	return withHandle(name, func(nl *netlink.Handle) error {
		lo, err := nl.LinkByName("lo")
		if err != nil {
			return fmt.Errorf("netns %s: lo: %w", name, err)
		}
		if err := nl.LinkSetUp(lo); err != nil {
			return fmt.Errorf("netns %s: lo up: %w", name, err)
		}
		return nil
	})
}

// Delete removes the named namespace (its links go with it once no process
// is left inside). A namespace that does not exist is not an error.
func Delete(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	p := filepath.Join(Dir, name)
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("netns %s: unmount: %w", name, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("netns %s: %w", name, err)
	}
	return nil
}

// List returns the named namespaces whose name starts with prefix, sorted.
func List(prefix string) ([]string, error) {
	ents, err := os.ReadDir(Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// PIDs returns the processes whose network namespace is the named one
// (what `ip netns pids` prints).
func PIDs(name string) ([]int, error) {
	var want unix.Stat_t
	if err := unix.Stat(filepath.Join(Dir, name), &want); err != nil {
		return nil, fmt.Errorf("netns %s: %w", name, err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+e.Name()+"/ns/net", &st) == nil && st.Dev == want.Dev && st.Ino == want.Ino {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Do runs fn on an OS thread switched into the named network namespace.
// Sockets created by fn belong to that namespace for their whole life, so fn
// may return connections that other goroutines keep using.
func Do(name string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: current namespace: %w", err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(name)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns %s: %w", name, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns %s: enter: %w", name, err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// The thread stays locked and dies with the goroutine: it must not
		// run other goroutines in the wrong namespace.
		return fmt.Errorf("netns %s: leave: %w", name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// withHandle runs fn with a netlink handle bound to the named namespace.
func withHandle(name string, fn func(*netlink.Handle) error) error {
	ns, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("netns %s: %w", name, err)
	}
	defer ns.Close()
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netns %s: netlink: %w", name, err)
	}
	defer nl.Close()
	return fn(nl)
}

// Veth is one end of a veth pair: its namespace, interface name and
// address (invalid for none).
type Veth struct {
	NS, Iface string
	Addr      netip.Prefix
}

// AddVeth creates a veth pair with one end in each namespace, gives each
// end its address and sets both up. The pair never exists in the caller's
// namespace, so its names only need to be free in the two namespaces.
func AddVeth(a, b Veth) error {
	for _, v := range []Veth{a, b} {
		if err := checkIface(v.Iface); err != nil {
			return err
		}
	}
	bns, err := netns.GetFromName(b.NS)
	if err != nil {
		return fmt.Errorf("netns %s: %w", b.NS, err)
	}
	defer bns.Close()
	err = withHandle(a.NS, func(nl *netlink.Handle) error {
		return nl.LinkAdd(&netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: a.Iface},
			PeerName:      b.Iface,
			PeerNamespace: netlink.NsFd(int(bns)),
		})
	})
	if err != nil {
		return fmt.Errorf("veth %s/%s - %s/%s: %w", a.NS, a.Iface, b.NS, b.Iface, err)
	}
	for _, v := range []Veth{a, b} {
		if v.Addr.IsValid() {
			if err := AddAddr(v.NS, v.Iface, v.Addr); err != nil {
				return err
			}
		}
		if err := SetUp(v.NS, v.Iface); err != nil {
			return err
		}
	}
	return nil
}

// AddAddr adds an address (with its prefix length) to an interface.
func AddAddr(ns, iface string, p netip.Prefix) error {
	return withHandle(ns, func(nl *netlink.Handle) error {
		l, err := nl.LinkByName(iface)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", ns, iface, err)
		}
		if err := nl.AddrAdd(l, &netlink.Addr{IPNet: ipNet(p)}); err != nil {
			return fmt.Errorf("%s/%s: add address %v: %w", ns, iface, p, err)
		}
		return nil
	})
}

// AddAddrs adds several addresses to one interface with one handle.
func AddAddrs(ns, iface string, ps []netip.Prefix) error {
	return withHandle(ns, func(nl *netlink.Handle) error {
		l, err := nl.LinkByName(iface)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", ns, iface, err)
		}
		for _, p := range ps {
			if err := nl.AddrAdd(l, &netlink.Addr{IPNet: ipNet(p)}); err != nil {
				return fmt.Errorf("%s/%s: add address %v: %w", ns, iface, p, err)
			}
		}
		return nil
	})
}

// SetUp sets an interface up.
func SetUp(ns, iface string) error {
	return withHandle(ns, func(nl *netlink.Handle) error {
		l, err := nl.LinkByName(iface)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", ns, iface, err)
		}
		if err := nl.LinkSetUp(l); err != nil {
			return fmt.Errorf("%s/%s: up: %w", ns, iface, err)
		}
		return nil
	})
}

// Route is a static route through a gateway; Default means 0.0.0.0/0.
type Route struct {
	Dst netip.Prefix
	Via netip.Addr
}

// ReplaceRoutes installs the routes in the namespace (replacing any route to
// the same destination).
func ReplaceRoutes(ns string, rs []Route) error {
	return withHandle(ns, func(nl *netlink.Handle) error {
		for _, r := range rs {
			if err := nl.RouteReplace(&netlink.Route{Dst: ipNet(r.Dst), Gw: net.IP(r.Via.AsSlice())}); err != nil {
				return fmt.Errorf("%s: route %v via %v: %w", ns, r.Dst, r.Via, err)
			}
		}
		return nil
	})
}

// Sysctls writes /proc/sys values (keys like "net/ipv4/ip_forward") as seen
// from the named namespace.
func Sysctls(ns string, vals map[string]string) error {
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return Do(ns, func() error {
		for _, k := range keys {
			if err := os.WriteFile("/proc/sys/"+k, []byte(vals[k]), 0o644); err != nil {
				return fmt.Errorf("sysctl %s in %s: %w", k, ns, err)
			}
		}
		return nil
	})
}

// RootLinks returns the names of the links in the caller's namespace that
// start with prefix.
func RootLinks(prefix string) ([]string, error) {
	ls, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("netlink: links: %w", err)
	}
	var out []string
	for _, l := range ls {
		if n := l.Attrs().Name; strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out, nil
}

// DeleteRootLink removes a link of the caller's namespace by name.
func DeleteRootLink(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("link %s: %w", name, err)
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("link %s: delete: %w", name, err)
	}
	return nil
}

// Bind is a file bind-mounted over another in the mount namespace of a
// program started by Start (the way `ip netns exec` puts
// /etc/netns/NAME/resolv.conf over /etc/resolv.conf).
type Bind struct {
	Source, Target string
}

// Start starts cmd inside the named network namespace, in a mount namespace
// of its own where /sys shows that network namespace and every bind is
// mounted: the replacement of `ip netns exec`. The caller waits for cmd as
// usual. cmd must not ask for a parent-death signal: the thread that starts
// it ends at once, and the kernel ties that signal to the thread.
func Start(ns string, binds []Bind, cmd *exec.Cmd) error {
	if cmd.SysProcAttr != nil && cmd.SysProcAttr.Pdeathsig != 0 {
		return errors.New("nsnet: Start cannot honour Pdeathsig (the starting thread ends at once)")
	}
	errc := make(chan error, 1)
	go func() {
		// This thread's namespaces are changed for good: it stays locked,
		// so that it ends with this goroutine and no other runs on it.
		runtime.LockOSThread()
		errc <- startOnThread(ns, binds, cmd)
	}()
	return <-errc
}

func startOnThread(ns string, binds []Bind, cmd *exec.Cmd) error {
	// Go back to the process's namespaces afterwards all the same: should
	// this be the main thread, the runtime parks it instead of ending it,
	// and a parked main thread in the lab's namespace would make the whole
	// process look as if it ran inside (to PIDs, and so to a lab's down).
	origNet, err := netns.Get()
	if err != nil {
		return fmt.Errorf("netns: current namespace: %w", err)
	}
	defer origNet.Close()
	origMnt, err := os.Open("/proc/thread-self/ns/mnt")
	if err != nil {
		return fmt.Errorf("netns: current mount namespace: %w", err)
	}
	defer origMnt.Close()
	defer func() {
		_ = unix.Setns(int(origMnt.Fd()), unix.CLONE_NEWNS)
		_ = netns.Set(origNet)
	}()
	target, err := netns.GetFromName(ns)
	if err != nil {
		return fmt.Errorf("netns %s: %w", ns, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		return fmt.Errorf("netns %s: enter: %w", ns, err)
	}
	// A private mount namespace for this thread (and the child it forks).
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("netns %s: mount namespace: %w", ns, err)
	}
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("netns %s: mount propagation: %w", ns, err)
	}
	// /sys of this network namespace, as ip netns exec does (best effort:
	// a container may forbid it, and nothing of ours reads it).
	if unix.Unmount("/sys", unix.MNT_DETACH) == nil {
		_ = unix.Mount(ns, "/sys", "sysfs", 0, "")
	}
	for _, b := range binds {
		if err := unix.Mount(b.Source, b.Target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("netns %s: bind %s on %s: %w", ns, b.Source, b.Target, err)
		}
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("netns %s: %w", ns, err)
		}
		return err
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func checkName(name string) error {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return fmt.Errorf("netns: invalid namespace name %q", name)
	}
	return nil
}

func checkIface(name string) error {
	if name == "" || len(name) > MaxIfaceName || strings.ContainsAny(name, "/ \x00:") {
		return fmt.Errorf("interface name %q: must be 1 to %d characters without '/', ':' or spaces", name, MaxIfaceName)
	}
	return nil
}
