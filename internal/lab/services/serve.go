package services

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/miekg/dns"

	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/target"
)

// Ports maps each service name of a scenario to its TCP (or, for dns, UDP
// and TCP) port: every target scheme at its default port, dns and dns-open.
var Ports = func() map[string]int {
	m := map[string]int{"dns": 53, scenario.DNSOpen: 53}
	for scheme, port := range target.DefaultPorts {
		m[scheme] = port
	}
	return m
}()

// Config is what Start serves.
type Config struct {
	// Hosts are the scenario's hosts; each service listens on host.IP.
	Hosts []scenario.Host
	// Inside are the prefixes of the censored network (for inside behavior).
	Inside []netip.Prefix
	// Certificate returns the host's certificate (from the lab's public CA);
	// needed for https and the mail services' TLS.
	Certificate func(h scenario.Host) (tls.Certificate, error)
	// Authority answers the "dns" service of a host; nil builds one from Hosts.
	Authority *Authority
	// Addr maps a host and port to a listen address; nil means host.IP:port.
	// Tests use it to listen on 127.0.0.1:0.
	Addr func(h scenario.Host, service string, port int) string
	// Log receives one line per listener and per failure; nil discards.
	Log *log.Logger
	// Bind opens the sockets; nil opens them on the host's own addresses.
	// The emulated network (internal/lab/emunet) passes its own.
	Bind Binder
}

// Binder opens the sockets services listen on.
type Binder interface {
	Listen(network, addr string) (net.Listener, error)
	ListenPacket(network, addr string) (net.PacketConn, error)
}

// hostNet binds on the host's own addresses.
type hostNet struct{}

func (hostNet) Listen(network, addr string) (net.Listener, error) { return net.Listen(network, addr) }
func (hostNet) ListenPacket(network, addr string) (net.PacketConn, error) {
	return net.ListenPacket(network, addr)
}

// Listener is one bound service.
type Listener struct {
	Host    string // primary name
	Service string
	Addr    net.Addr
}

// Start binds every service of every host and serves them until ctx is done.
// It returns the bound listeners, or the first bind error (after closing what
// it had bound).
func Start(ctx context.Context, cfg Config) ([]Listener, error) {
	logf := func(string, ...any) {}
	if cfg.Log != nil {
		logf = cfg.Log.Printf
	}
	bind := cfg.Bind
	if bind == nil {
		bind = hostNet{}
	}
	auth := cfg.Authority
	if auth == nil {
		auth = NewAuthority(cfg.Hosts, 0)
	}
	ctx, cancel := context.WithCancel(ctx)
	var out []Listener
	fail := func(err error) ([]Listener, error) {
		cancel()
		return nil, err
	}
	for _, h := range cfg.Hosts {
		if h.OpenResolver() {
			continue // an open resolver inside the censored network, served there (not an internet server)
		}
		name := h.IP.String()
		if len(h.Names) > 0 {
			name = h.Names[0]
		}
		var tlsConf *tls.Config
		for _, svc := range h.Services {
			if svc != "http" && svc != "dns" && tlsConf == nil {
				if cfg.Certificate == nil {
					return fail(fmt.Errorf("services: %s: %s needs a certificate", name, svc))
				}
				cert, err := cfg.Certificate(h)
				if err != nil {
					return fail(fmt.Errorf("services: %s: certificate: %w", name, err))
				}
				tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
			}
		}
		for _, svc := range h.Services {
			for _, ip := range h.IPs() {
				port, ok := Ports[svc]
				if !ok {
					return fail(fmt.Errorf("services: %s: unknown service %q", name, svc))
				}
				addr := net.JoinHostPort(ip.String(), strconv.Itoa(port))
				if cfg.Addr != nil {
					if ip != h.IP {
						continue // tests listen once per host
					}
					addr = cfg.Addr(h, svc, port)
				}
				if svc == "dns" {
					a, err := StartDNSOn(ctx, bind, addr, auth)
					if err != nil {
						return fail(fmt.Errorf("services: %s: dns: %w", name, err))
					}
					out = append(out, Listener{name, svc, a})
					logf("%s %s on %s", name, svc, a)
					continue
				}
				ln, err := bind.Listen("tcp", addr)
				if err != nil {
					return fail(fmt.Errorf("services: %s: %s: %w", name, svc, err))
				}
				out = append(out, Listener{name, svc, ln.Addr()})
				logf("%s %s on %s", name, svc, ln.Addr())
				host, svc := h, svc
				h3 := 0 // the UDP port of HTTP/3, advertised by https
				if svc == "https" {
					pc, err := bind.ListenPacket("udp", ln.Addr().String())
					if err != nil {
						logf("%s http3: %v (https only over TCP)", name, err)
					} else {
						h3 = pc.LocalAddr().(*net.UDPAddr).Port
						out = append(out, Listener{name, "http3", pc.LocalAddr()})
						logf("%s http3 on %s", name, pc.LocalAddr())
						go func() {
							if err := serveHTTP3(ctx, pc, host, tlsConf, cfg.Inside); err != nil {
								logf("%s http3: %v", name, err)
							}
						}()
					}
				}
				go func() {
					if err := serveOne(ctx, ln, host, svc, name, tlsConf, cfg.Inside, h3); err != nil {
						logf("%s %s: %v", name, svc, err)
					}
				}()
			}
		}
	}
	go func() { <-ctx.Done(); cancel() }()
	return out, nil
}

// serveOne serves one service on ln; h3, when not 0, is the UDP port where
// the host serves HTTP/3, which https answers advertise (Alt-Svc).
func serveOne(ctx context.Context, ln net.Listener, h scenario.Host, svc, name string, tlsConf *tls.Config, inside []netip.Prefix, h3 int) error {
	switch svc {
	case "http", "https":
		var handler http.Handler = &Web{Host: h, Inside: inside}
		if h3 != 0 {
			handler = altSvc(handler, h3)
		}
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}
		go func() { <-ctx.Done(); srv.Close() }()
		var err error
		if svc == "https" {
			srv.TLSConfig = tlsConf
			err = srv.Serve(tls.NewListener(ln, tlsConf))
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case "imap", "imaps":
		return ServeMail(ctx, ln, MailConfig{Protocol: IMAP, Hostname: name, TLS: tlsConf, Implicit: svc == "imaps"})
	case "smtp", "submission", "smtps":
		return ServeMail(ctx, ln, MailConfig{Protocol: SMTP, Hostname: name, TLS: tlsConf, Implicit: svc == "smtps"})
	case "pop3", "pop3s":
		return ServeMail(ctx, ln, MailConfig{Protocol: POP3, Hostname: name, TLS: tlsConf, Implicit: svc == "pop3s"})
	}
	return fmt.Errorf("unknown service %q", svc)
}

// StartDNS serves h over UDP and TCP on addr until ctx is done and returns
// the bound UDP address (the TCP listener uses the same port). With port 0
// it tries new ports while the kernel's UDP choice is taken for TCP.
func StartDNS(ctx context.Context, addr string, h dns.Handler) (net.Addr, error) {
	return StartDNSOn(ctx, hostNet{}, addr, h)
}

// StartDNSOn is StartDNS with the sockets opened by bind.
func StartDNSOn(ctx context.Context, bind Binder, addr string, h dns.Handler) (net.Addr, error) {
	pc, ln, err := listenDNS(bind, addr)
	if err != nil {
		return nil, err
	}
	udp := &dns.Server{PacketConn: pc, Handler: h}
	tcp := &dns.Server{Listener: ln, Handler: h}
	go func() { _ = udp.ActivateAndServe() }()
	go func() { _ = tcp.ActivateAndServe() }()
	go func() {
		<-ctx.Done()
		_ = udp.Shutdown()
		_ = tcp.Shutdown()
	}()
	return pc.LocalAddr(), nil
}

// listenDNS opens a UDP socket and a TCP listener on the same port of addr.
func listenDNS(bind Binder, addr string) (net.PacketConn, net.Listener, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	tries := 1
	if port == "0" {
		tries = 50
	}
	for {
		pc, err := bind.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		ln, err := bind.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if tries--; tries == 0 {
			return nil, nil, err
		}
	}
}
