package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/firewatch/firewatch/internal/lab/gen"
)

func init() { labCommands = append(labCommands, newLabGenCmd) }

func newLabGenCmd() *cobra.Command {
	var targets int
	var mix string
	var seed uint64
	c := &cobra.Command{
		Use:   "gen --targets N [--mix SPEC] [--seed S] > scenario.yaml",
		Short: "Generate a scenario of N targets for a mix of censorship techniques",
		Long: `Generate a lab scenario (hosts, censor rules and the expect list) with N
targets split by --mix: blackhole (tcp.timeout), dns (a forged answer replaces
the genuine one: dns.inconsistent or dns.bogon), reset (a keyword in the Host
or SNI: http.reset or tls.reset), mitm (tls.mitm), blockpage (http.blockpage),
throttle (a throttled download), down (nothing listens anywhere) and ok. The
weights are shares of their sum. The same --seed gives the same file. Verify
it with ` + "`firewatch lab verify --scenario FILE`" + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := gen.ParseMix(mix)
			if err != nil {
				return fmt.Errorf("--mix: %w", err)
			}
			if targets < 1 || targets > gen.MaxTargets {
				return fmt.Errorf("--targets %d: want 1 to %d", targets, gen.MaxTargets)
			}
			return gen.Write(cmd.OutOrStdout(), gen.Options{Targets: targets, Mix: m, Seed: seed})
		},
	}
	c.Flags().IntVar(&targets, "targets", 0, "number of targets (expect entries)")
	c.Flags().StringVar(&mix, "mix", gen.DefaultMix, "technique=weight,... (blackhole, dns, reset, mitm, blockpage, throttle, down, ok)")
	c.Flags().Uint64Var(&seed, "seed", 1, "seed of the names, schemes and order")
	_ = c.MarkFlagRequired("targets")
	return c
}
