package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/trace"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newTraceCmd) }

func newTraceCmd() *cobra.Command {
	var pf probeFlags
	var rf recordFlags
	var asJSON bool
	var maxTTL int
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "trace TARGET",
		Short: "Locate the censor of a blocked target on the path (TTL-limited replay)",
		Long: `Measure TARGET (with the control), and when the verdict names a method that a
packet triggers (dns.injected, dns.inconsistent with an on-path forger,
http.reset, tls.reset, http.blockpage, http.redirect, tcp.timeout), replay the
triggering exchange with IP TTL 1, 2, 3, ... : a DNS query, or a TCP connection
whose request or ClientHello is sent with the limited TTL after a normal
handshake, or the SYN itself for a timeout. Prints the first hop at which the
interference appears, the router of each hop (ICMP time exceeded), whether the
censor is on-path or in-path, and the hop count to the server. The trace_hop
steps are added to the record (--out, --upload). Needs root or CAP_NET_RAW.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if maxTTL < 1 || maxTTL > 64 {
				return fmt.Errorf("--max-ttl %d: must be between 1 and 64", maxTTL)
			}
			if wait <= 0 {
				return fmt.Errorf("--wait %s: must be positive", wait)
			}
			if err := trace.CheckRaw(); err != nil {
				return err
			}
			cfg, err := pf.probeConfig()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			measure, err := pf.measurer()
			if err != nil {
				return err
			}
			return followUp(cmd, args[0], measure, &rf, trace.ErrNothingToLocate, func(m *model.Measurement) (func() error, error) {
				plan, err := trace.PlanFor(m)
				if err != nil {
					return nil, err
				}
				p, err := trace.NewProber(plan.Exchange, cfg.Network, wait)
				if err != nil {
					return nil, err
				}
				res, err := trace.Locate(cmd.Context(), p, trace.Options{Target: m.Target, Method: plan.Method, Kind: plan.Kind,
					Address: plan.Exchange.Server.String(), Host: plan.Host, MaxTTL: maxTTL})
				p.Close()
				if err != nil {
					return nil, err
				}
				m.Steps = append(m.Steps, res.Steps...)
				return func() error {
					if asJSON {
						return json.NewEncoder(out).Encode(res)
					}
					printTrace(out, res)
					return nil
				}, nil
			})
		},
	}
	pf.register(cmd.Flags())
	rf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"target", "method", "censor_hop", "placement", "server_hops", "hops"} per target`)
	cmd.Flags().IntVar(&maxTTL, "max-ttl", trace.DefaultMaxTTL, "the highest TTL tried when the server never answers")
	cmd.Flags().DurationVar(&wait, "wait", trace.DefaultWait, "how long each TTL's probes wait for answers")
	return cmd
}

func printTrace(w io.Writer, r *trace.Result) {
	fmt.Fprintf(w, "%s: %s\n", r.Target, r.Method)
	for _, h := range r.Hops {
		router := "*"
		if h.Router != nil {
			router = *h.Router
		}
		mark := ""
		if h.Interference {
			mark = "  interference"
		}
		fmt.Fprintf(w, "  %2d  %-16s%s\n", h.TTL, router, mark)
	}
	place := "placement unknown: the server runs no such service, so no genuine answer could come"
	if r.Placement != nil {
		place = *r.Placement
	}
	server := fmt.Sprintf("the server is %d hops away", r.ServerHops)
	if r.ServerHops == 0 {
		server = "the server never answered"
	}
	if r.CensorHop != nil {
		fmt.Fprintf(w, "censor at hop %d (%s); %s\n", *r.CensorHop, place, server)
	} else {
		fmt.Fprintf(w, "no interference seen on the replayed exchange; %s\n", server)
	}
}
