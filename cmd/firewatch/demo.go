package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/firewatch/firewatch/internal/demo"
	"github.com/firewatch/firewatch/internal/lab"
)

func init() { commands = append(commands, newDemoCmd) }

func newDemoCmd() *cobra.Command {
	var o demo.Options
	c := &cobra.Command{
		Use:   "demo",
		Short: "See firewatch at work: the lab, the probe and the dashboard on the seed's incidents (needs root)",
		Long: `Bring up the lab with the seed scenario (skype.com's look-alike, MITM of mail,
DNS poisoning, blackholed mail ports, a trusted rogue CA, keyword resets), start
a collector in this process (SQLite in a temporary directory), measure the
scenario's targets from inside the lab for a few rounds, upload the records,
print the findings and the dashboard's URL, and serve it until Ctrl-C. Then
everything is removed: lab, database, temporary files. See docs/demo.md.`,
		Example: `  go build -o firewatch ./cmd/firewatch && sudo ./firewatch demo
  sudo ./firewatch demo --rounds 1 --exit-after-rounds`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = cmd.OutOrStdout()
			o.Err = cmd.ErrOrStderr()
			o.Name = nameFlag(cmd)
			if err := lab.CheckName(o.Name); err != nil {
				return fmt.Errorf("--name: %w", err)
			}
			o.StateDir = stateFlagValue(cmd)
			o.Control = hasControl(cmd)
			if o.Rounds < 1 {
				return errors.New("--rounds: must be at least 1")
			}
			if o.Interval <= 0 {
				o.Interval = -1 // no pause (Options treats 0 as the default)
			}
			_, err := demo.Run(cmd.Context(), o)
			if err != nil && errors.Is(err, context.Canceled) && cmd.Context().Err() != nil {
				return exitError{130}
			}
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&o.Listen, "listen", demo.DefaultListen, "address the collector and dashboard listen on (another port if it is busy)")
	f.IntVar(&o.Rounds, "rounds", demo.DefaultRounds, "rounds of measurements")
	f.DurationVar(&o.Interval, "interval", demo.DefaultInterval, "pause between rounds")
	f.StringVar(&o.Scenario, "scenario", "", "scenario file (default "+demo.DefaultScenario+", or the copy built into firewatch when that file is not there)")
	f.BoolVar(&o.ExitAfterRounds, "exit-after-rounds", false, "stop after printing the findings instead of serving until Ctrl-C (for CI)")
	f.Int64Var(&o.Seed, "seed", 1, "seed of the censor's random choices")
	f.String("name", lab.DefaultName, "name of the lab: prefix of its namespaces and interfaces, so that the demo runs beside other labs")
	f.String("state", "", "state directory of the lab (default "+lab.StateRoot+"/NAME)")
	_ = f.MarkHidden("state")
	return c
}

// stateFlagValue returns the demo's --state flag.
func stateFlagValue(cmd *cobra.Command) string {
	s, _ := cmd.Flags().GetString("state")
	return s
}
