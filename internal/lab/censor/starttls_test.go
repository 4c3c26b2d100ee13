package censor

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/lab/pki"
	"github.com/firewatch/firewatch/internal/lab/policy"
	"github.com/firewatch/firewatch/internal/lab/scenario"
)

// mailServer is a tiny SMTP or POP3 server on loopback offering STARTTLS/STLS.
func mailServer(t *testing.T, proto string, cfg *tls.Config) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go serveLoop(ln, func(c net.Conn) {
		defer c.Close()
		greet, ok, echo := "220 genuine ESMTP\r\n", "220 2.0.0 Ready to start TLS\r\n", "250 genuine %s\r\n"
		if proto == "pop3" {
			greet, ok, echo = "+OK genuine POP3\r\n", "+OK Begin TLS\r\n", "+OK genuine %s\r\n"
		}
		io.WriteString(c, greet)
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			cmd := strings.ToUpper(strings.TrimSpace(line))
			switch {
			case cmd == "EHLO X":
				io.WriteString(c, "250-genuine\r\n250-STARTTLS\r\n250 OK\r\n")
			case (cmd == "STARTTLS" || cmd == "STLS") && cfg != nil:
				io.WriteString(c, ok)
				tc := tls.Server(c, cfg)
				if tc.Handshake() != nil {
					return
				}
				c, r, cfg = tc, bufio.NewReader(tc), nil
			default:
				io.WriteString(c, strings.Replace(echo, "%s", cmd, 1))
			}
		}
	})
	return ln
}

// TestSTARTTLSMITM runs the MITM's STARTTLS handling on loopback for SMTP and POP3.
func TestSTARTTLSMITM(t *testing.T) {
	public, _ := pki.New("public")
	rogue, _ := pki.New("rogue")
	srvCfg := &tls.Config{GetCertificate: public.GetCertificate([]string{"mail.example"}, nil)}
	dst := netip.MustParseAddrPort("203.0.113.20:25")
	e, err := newEngine(Config{InsideIface: "x", OutsideIface: "y", RogueCA: rogue,
		Hosts: []scenario.Host{{Names: []string{"mail.example"}, IP: dst.Addr()}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		proto, ehlo, upgrade, want string
		port                       uint16
	}{
		{"smtp", "EHLO x", "STARTTLS", "250 genuine NOOP", 25},
		{"pop3", "CAPA", "STLS", "+OK genuine NOOP", 110},
	} {
		t.Run(c.proto, func(t *testing.T) {
			up := mailServer(t, c.proto, srvCfg)
			// the proxy's listener stands in for the nft redirect
			pl, _ := net.Listen("tcp4", "127.0.0.1:0")
			defer pl.Close()
			go func() {
				cc, err := pl.Accept()
				if err != nil {
					return
				}
				defer cc.Close()
				uc, err := net.Dial("tcp4", up.Addr().String())
				if err != nil {
					return
				}
				defer uc.Close()
				if e.proxies.plainUntilSTARTTLS(cc, uc, policy.STARTTLS(c.port)) {
					e.proxies.mitmTLS(cc, uc, netip.AddrPortFrom(dst.Addr(), c.port), e.proxies.RogueCA)
				}
			}()
			conn, err := net.Dial("tcp4", pl.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			r := bufio.NewReader(conn)
			if l, _ := r.ReadString('\n'); !strings.Contains(l, "genuine") {
				t.Fatalf("got greeting %q", l)
			}
			io.WriteString(conn, c.ehlo+"\r\n")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				if len(l) < 4 || l[3] != '-' {
					break
				}
			}
			io.WriteString(conn, c.upgrade+"\r\n")
			l, _ := r.ReadString('\n')
			if !strings.HasPrefix(l, "220") && !strings.HasPrefix(l, "+OK") {
				t.Fatalf("got %q to %s", l, c.upgrade)
			}
			tc := tls.Client(conn, &tls.Config{ServerName: "mail.example", InsecureSkipVerify: true})
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			leaf := tc.ConnectionState().PeerCertificates[0]
			if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "mail.example", Roots: rogue.Pool()}); err != nil {
				t.Fatalf("chain not from the rogue CA: %v", err)
			}
			io.WriteString(tc, "NOOP\r\n")
			if l, _ := bufio.NewReader(tc).ReadString('\n'); !strings.HasPrefix(l, c.want) {
				t.Fatalf("got %q after TLS, want %q", l, c.want)
			}
		})
	}
}
