package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/firewatch/firewatch/internal/lab"
)

func init() { commands = append(commands, newLabCmd) }

// labCommands holds constructors of further `lab` subcommands (e.g. `lab
// verify`), added from their own files' init functions.
var labCommands []func() *cobra.Command

func newLabCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "lab",
		Short: "Run an emulated censored network (network namespaces, censor, servers) on this machine",
		Long: `The lab is a small internet built from network namespaces: a censored inside
network (probe host and ISP resolver), three router hops with the censor on the
second, an internet of emulated servers and resolvers, and an uncensored
outside vantage. It needs root. See docs/lab.md.`,
	}
	c.PersistentFlags().String("state", lab.DefaultStateDir, "state directory of the lab")
	c.AddCommand(newLabUpCmd(), newLabDownCmd(), newLabStatusCmd(), newLabExecCmd(), newLabRunCmd(), newLabDaemonCmd())
	for _, f := range labCommands {
		c.AddCommand(f())
	}
	return c
}

func stateFlag(cmd *cobra.Command) string {
	s, _ := cmd.Flags().GetString("state")
	return s
}

// hasControl reports whether this binary has the `control` command.
func hasControl(cmd *cobra.Command) bool {
	c, _, err := cmd.Root().Find([]string{"control"})
	return err == nil && c != nil && c.Name() == "control"
}

// labUp brings the lab up, tearing down on Ctrl-C.
func labUp(cmd *cobra.Command, scenarioPath string, seed int64) (*lab.State, error) {
	return lab.Up(cmd.Context(), lab.Options{
		Scenario: scenarioPath,
		StateDir: stateFlag(cmd),
		Control:  hasControl(cmd),
		Seed:     seed,
		Log:      cmd.ErrOrStderr(),
	})
}

// scenarioFlags adds the --scenario (required) and --seed flags of the
// commands that bring a lab up.
func scenarioFlags(c *cobra.Command, path *string, seed *int64) {
	c.Flags().StringVar(path, "scenario", "", "scenario file (YAML)")
	c.Flags().Int64Var(seed, "seed", 0, "seed of the censor's random choices (rules with probability); 0: the scenario's seed, else 1")
	_ = c.MarkFlagRequired("scenario")
}

// labDown removes the lab in dir with a deadline of its own, so that it
// also runs after the command's context was cancelled (Ctrl-C).
func labDown(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return lab.Down(ctx, dir)
}

func newLabUpCmd() *cobra.Command {
	var scenarioPath string
	var seed int64
	c := &cobra.Command{
		Use:   "up --scenario FILE",
		Short: "Build the lab from a scenario and return when every part answers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := labUp(cmd, scenarioPath, seed)
			if err != nil {
				return err
			}
			st.WriteSummary(cmd.OutOrStdout())
			fmt.Fprintln(cmd.OutOrStdout(), "lab is up: `firewatch lab exec -- CMD` runs CMD inside; `firewatch lab down` removes it")
			return nil
		},
	}
	scenarioFlags(c, &scenarioPath, &seed)
	return c
}

func newLabDownCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Remove the lab (daemons, namespaces, links, resolv.conf files, state); idempotent",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return labDown(stateFlag(cmd))
		},
	}
}

func newLabStatusCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "status [--json]",
		Short: "Show the lab's topology, resolvers, trust files, control and the health of every part",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := lab.GetStatus(cmd.Context(), stateFlag(cmd))
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(s); err != nil {
					return err
				}
			} else if s.State == nil {
				fmt.Fprintln(out, "lab: not running")
				if len(s.Leftovers) > 0 {
					fmt.Fprintf(out, "leftover namespaces: %v (run `firewatch lab down`)\n", s.Leftovers)
				}
			} else {
				s.State.WriteSummary(out)
				for _, c := range s.Checks {
					mark := "ok  "
					if !c.OK {
						mark = "FAIL"
					}
					line := fmt.Sprintf("%s %s", mark, c.Part)
					if c.Detail != "" {
						line += ": " + c.Detail
					}
					fmt.Fprintln(out, line)
				}
				if s.Up {
					fmt.Fprintln(out, "lab: up")
				} else {
					fmt.Fprintln(out, "lab: DEGRADED")
				}
			}
			if !s.Up {
				return exitError{1}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return c
}

func newLabExecCmd() *cobra.Command {
	var from string
	c := &cobra.Command{
		Use:   "exec [--from inside|outside] -- CMD ARGS...",
		Short: "Run a program in a vantage of the running lab, with its resolver and trust store",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return labExec(cmd, from, args)
		},
	}
	c.Flags().StringVar(&from, "from", lab.FromInside, "vantage: inside or outside")
	return c
}

func labExec(cmd *cobra.Command, from string, args []string) error {
	code, err := lab.Exec(cmd.Context(), stateFlag(cmd), lab.ExecSpec{
		From: from, Argv: args,
		Stdin: os.Stdin, Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(),
	})
	if err != nil {
		return err
	}
	if code != 0 {
		return exitError{code}
	}
	return nil
}

func newLabRunCmd() *cobra.Command {
	var scenarioPath string
	var seed int64
	c := &cobra.Command{
		Use:   "run --scenario FILE -- CMD ARGS...",
		Short: "Bring the lab up, run a program inside, tear the lab down; exits with the program's status",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			st, err := labUp(cmd, scenarioPath, seed)
			if err != nil {
				return err
			}
			defer func() {
				if derr := labDown(stateFlag(cmd)); derr != nil && err == nil {
					err = derr
				}
			}()
			st.WriteSummary(cmd.ErrOrStderr())
			return labExec(cmd, lab.FromInside, args)
		},
	}
	scenarioFlags(c, &scenarioPath, &seed)
	return c
}

func newLabDaemonCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "daemon ROLE",
		Short:  "Run one of the lab's daemons (started by `lab up` inside a namespace)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return lab.RunDaemon(cmd.Context(), args[0], stateFlag(cmd))
		},
	}
}
