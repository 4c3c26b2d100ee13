package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/firewatch/firewatch/internal/addrclass"
	"github.com/firewatch/firewatch/internal/control"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/netx"
	"github.com/firewatch/firewatch/internal/probe"
)

func init() { commands = append(commands, newControlCmd) }

// The rate limit of a control started with --lab, unless --rate/--burst say.
const (
	labRate  = 100
	labBurst = 500
)

func newControlCmd() *cobra.Command {
	var (
		listen, token, caFile, tlsCert, tlsKey string
		resolvers                              []string
		lab, allowLoopback                     bool
		timeout, cacheTTL                      time.Duration
		perSec                                 float64
		burst, maxAddrs                        int
	)
	cmd := &cobra.Command{
		Use:   "control --listen ADDR",
		Short: "Serve the outside vantage: measure targets for probes and tell them their address",
		Long: `Serve the control, the outside vantage, as JSON over HTTP(S):
  POST /v1/measure {"target": URL, "addrs": [IP...]}  measure the target from here
  GET  /v1/whoami                                     the address the client comes from
  GET  /metrics, /healthz
Targets and addresses in loopback, private or reserved space are refused
(TEST-NET ones are accepted with --lab). See docs/verdicts.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if listen == "" {
				return errors.New("--listen ADDR is required (e.g. 192.0.2.10:8080)")
			}
			if token == "" {
				token = os.Getenv(control.EnvToken)
			}
			if (tlsCert == "") != (tlsKey == "") {
				return errors.New("--tls-cert and --tls-key go together")
			}
			if timeout <= 0 {
				return fmt.Errorf("--timeout %s: must be positive", timeout)
			}
			if maxAddrs < 1 || maxAddrs > probe.MaxAddrs {
				return fmt.Errorf("--max-addrs %d: must be from 1 to %d", maxAddrs, probe.MaxAddrs)
			}
			n := &netx.Network{}
			if caFile != "" {
				pool, err := netx.LoadRootCAs(caFile)
				if err != nil {
					return err
				}
				n.RootCAs = pool
			}
			if lab {
				n.Routable = append(n.Routable, addrclass.TestNet()...)
			}
			if v := os.Getenv("FIREWATCH_ROUTABLE"); v != "" {
				r, err := netx.ParseRoutable(v)
				if err != nil {
					return fmt.Errorf("FIREWATCH_ROUTABLE: %w", err)
				}
				n.Routable = append(n.Routable, r...)
			}
			if lab && !cmd.Flags().Changed("rate") {
				perSec = labRate // the lab's probe is the only client, and verify runs in parallel
			}
			if lab && !cmd.Flags().Changed("burst") {
				burst = labBurst
			}
			p, err := probe.New(probe.Config{Network: n, Resolvers: resolvers, Timeout: timeout, MaxAddrs: maxAddrs, Vantage: model.VantageControl,
				Info: model.ProbeInfo{Software: "firewatch/" + version, Platform: runtime.GOOS + "/" + runtime.GOARCH}})
			if err != nil {
				return err
			}
			srv, err := control.NewServer(control.Config{Probe: p, Network: n, Token: token, Lab: lab, AllowLoopback: allowLoopback,
				Rate: rate.Limit(perSec), Burst: burst, CacheTTL: cacheTTL,
				Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen %s: %w", listen, err)
			}
			// No Read/WriteTimeout: a measurement may outlast them. Idle
			// keep-alive connections are bounded.
			hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
				MaxHeaderBytes: 64 << 10}
			scheme := "http"
			if tlsCert != "" {
				scheme = "https"
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "control listening on %s://%s\n", scheme, ln.Addr())
			errc := make(chan error, 1)
			go func() {
				if tlsCert != "" {
					errc <- hs.ServeTLS(ln, tlsCert, tlsKey)
				} else {
					errc <- hs.Serve(ln)
				}
			}()
			select {
			case err := <-errc:
				return err
			case <-cmd.Context().Done():
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				hs.Shutdown(ctx)
				return nil
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "", "address to listen on, IP:PORT")
	f.BoolVar(&lab, "lab", false, "accept TEST-NET targets and addresses (the lab); loopback stays refused")
	f.StringVar(&token, "token", "", "bearer token clients must send (default $"+control.EnvToken+")")
	f.StringArrayVar(&resolvers, "resolver", nil, "DNS resolver: udp://IP:PORT, tcp://IP:PORT or https://HOST/dns-query (repeatable; default: the system's)")
	f.StringVar(&caFile, "ca-file", "", "PEM file of trust roots to use instead of the system's")
	f.DurationVar(&timeout, "timeout", probe.DefaultTimeout, "timeout of each network step")
	f.IntVar(&maxAddrs, "max-addrs", probe.DefaultMaxAddrs, maxAddrsUsage)
	f.StringVar(&tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	f.StringVar(&tlsKey, "tls-key", "", "key of --tls-cert (PEM)")
	f.Float64Var(&perSec, "rate", control.DefaultRate, "requests per second allowed per client (with --lab: 100)")
	f.IntVar(&burst, "burst", control.DefaultBurst, "burst of requests allowed per client (with --lab: 500)")
	f.DurationVar(&cacheTTL, "cache-ttl", control.DefaultCacheTTL, "how long a measurement is reused (negative: never)")
	f.BoolVar(&allowLoopback, "allow-loopback", false, "accept loopback targets (tests only)")
	f.MarkHidden("allow-loopback")
	return cmd
}
