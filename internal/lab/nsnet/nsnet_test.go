package nsnet

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNames(t *testing.T) {
	for _, c := range []struct {
		name    string
		ns, ifc bool
	}{
		{"fwlab-inside", true, true}, {"fwlab-r2-r1", true, true}, {"abcdefghi-r1-r2", true, true},
		{"abcdefghij-r1-r2", true, false}, {"", false, false}, {"a/b", false, false}, {"a b", true, false}, {"..", false, true},
	} {
		if got := checkName(c.name) == nil; got != c.ns {
			t.Errorf("checkName(%q) ok=%v, want %v", c.name, got, c.ns)
		}
		if got := checkIface(c.name) == nil; got != c.ifc {
			t.Errorf("checkIface(%q) ok=%v, want %v", c.name, got, c.ifc)
		}
	}
	if n := ipNet(netip.MustParsePrefix("198.51.100.2/29")); n.String() != "198.51.100.2/29" {
		t.Errorf("ipNet: %v", n)
	}
}

// TestNamespaces builds two namespaces joined by a veth pair through
// netlink, connects across it, and starts a program inside one with a file
// bind-mounted over /etc/resolv.conf, as the lab does. Root and
// FIREWATCH_LAB_TESTS=1 only; names fwns-a and fwns-b.
func TestNamespaces(t *testing.T) {
	if os.Getenv("FIREWATCH_LAB_TESTS") != "1" || os.Geteuid() != 0 {
		t.Skip("namespace test: needs root and FIREWATCH_LAB_TESTS=1")
	}
	a, b := "fwns-a", "fwns-b"
	cleanup := func() { Delete(a); Delete(b) }
	cleanup()
	t.Cleanup(cleanup)
	for _, ns := range []string{a, b} {
		if err := Add(ns); err != nil {
			t.Fatal(err)
		}
	}
	if err := Add(a); err == nil {
		t.Errorf("Add of an existing namespace succeeded")
	}
	p := netip.MustParsePrefix
	if err := AddVeth(Veth{NS: a, Iface: "fwns-a0", Addr: p("198.51.100.1/30")}, Veth{NS: b, Iface: "fwns-b0", Addr: p("198.51.100.2/30")}); err != nil {
		t.Fatal(err)
	}
	if err := AddAddrs(b, "lo", []netip.Prefix{p("203.0.113.7/32")}); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceRoutes(a, []Route{{Dst: p("203.0.113.0/24"), Via: netip.MustParseAddr("198.51.100.2")}}); err != nil {
		t.Fatal(err)
	}
	if err := Sysctls(b, map[string]string{"net/ipv4/ip_forward": "1"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := List("fwns-"); strings.Join(got, ",") != a+","+b {
		t.Errorf("List: %v", got)
	}
	var ln net.Listener
	if err := Do(b, func() (err error) { ln, err = net.Listen("tcp4", "203.0.113.7:0"); return }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	var c net.Conn
	if err := Do(a, func() (err error) { c, err = net.DialTimeout("tcp4", ln.Addr().String(), 3*time.Second); return }); err != nil {
		t.Fatalf("dial across the veth: %v", err)
	}
	buf := make([]byte, 2)
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(buf); err != nil || string(buf) != "hi" {
		t.Errorf("read %q, %v", buf, err)
	}
	c.Close()
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(conf, []byte("nameserver 198.51.100.2\n"), 0o644)
	var out bytes.Buffer
	cmd := exec.Command("sh", "-c", "cat /etc/resolv.conf; ls /sys/class/net")
	cmd.Stdout = &out
	if err := Start(a, []Bind{{Source: conf, Target: "/etc/resolv.conf"}}, cmd); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "nameserver 198.51.100.2") || !strings.Contains(out.String(), "fwns-a0") {
		t.Errorf("inside %s: %q, want the bound resolv.conf and the namespace's interfaces", a, out.String())
	}
	if host, _ := os.ReadFile("/etc/resolv.conf"); strings.Contains(string(host), "198.51.100.2") {
		t.Errorf("the bind mount leaked into the host's /etc/resolv.conf")
	}
	pids, err := PIDs(a)
	if err != nil || len(pids) != 0 {
		t.Errorf("PIDs after the program ended: %v %v", pids, err)
	}
	if err := Delete(a); err != nil {
		t.Fatal(err)
	}
	if err := Delete(a); err != nil {
		t.Errorf("second Delete: %v", err)
	}
}
