package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
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
outside vantage. It needs root. Several labs run side by side under different
--name values (namespaces NAME-inside ... NAME-outside). See docs/lab.md.`,
	}
	c.PersistentFlags().String("name", lab.DefaultName, "name of the lab: prefix of its namespaces and interfaces (1 to 9 lower-case letters and digits)")
	c.PersistentFlags().String("state", "", "state directory of the lab (default "+lab.StateRoot+"/NAME)")
	c.AddCommand(newLabUpCmd(), newLabDownCmd(), newLabStatusCmd(), newLabExecCmd(), newLabRunCmd(), newLabDaemonCmd())
	for _, f := range labCommands {
		c.AddCommand(f())
	}
	return c
}

// nameFlag returns the lab's --name.
func nameFlag(cmd *cobra.Command) string {
	s, _ := cmd.Flags().GetString("name")
	return s
}

// stateFlag returns the lab's state directory: --state, or the one of
// --name.
func stateFlag(cmd *cobra.Command) string {
	if s, _ := cmd.Flags().GetString("state"); s != "" {
		return s
	}
	return lab.StateDir(nameFlag(cmd))
}

// labSelected reports whether the command names one lab (--name or --state).
func labSelected(cmd *cobra.Command) bool {
	return cmd.Flags().Changed("name") || cmd.Flags().Changed("state")
}

// hasControl reports whether this binary has the `control` command.
func hasControl(cmd *cobra.Command) bool {
	c, _, err := cmd.Root().Find([]string{"control"})
	return err == nil && c != nil && c.Name() == "control"
}

// labUp brings the lab of --name up, tearing down on Ctrl-C.
func labUp(cmd *cobra.Command, scenarioPath string, seed int64) (*lab.State, error) {
	return labUpAs(cmd, nameFlag(cmd), stateFlag(cmd), scenarioPath, seed, cmd.ErrOrStderr())
}

// labUpAs brings up the lab called name with its state in dir, writing its
// progress to log.
func labUpAs(cmd *cobra.Command, name, dir, scenarioPath string, seed int64, log io.Writer) (*lab.State, error) {
	if err := lab.CheckName(name); err != nil {
		return nil, fmt.Errorf("--name: %w", err)
	}
	return lab.Up(cmd.Context(), lab.Options{
		Scenario: scenarioPath,
		Name:     name,
		StateDir: dir,
		Control:  hasControl(cmd),
		Seed:     seed,
		Log:      log,
	})
}

// scenarioFlags adds the --scenario (required) and --seed flags of the
// commands that bring a lab up.
func scenarioFlags(c *cobra.Command, path *string, seed *int64) {
	c.Flags().StringVar(path, "scenario", "", "scenario file (YAML)")
	c.Flags().Int64Var(seed, "seed", 0, "seed of the censor's random choices (rules with probability); 0: the scenario's seed, else 1")
	_ = c.MarkFlagRequired("scenario")
}

// labDown removes the lab called name (state in dir) with a deadline of its
// own, so that it also runs after the command's context was cancelled (Ctrl-C).
func labDown(name, dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return lab.Down(ctx, name, dir)
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
			flag := ""
			if st.Name != lab.DefaultName {
				flag = " --name " + st.Name
			}
			fmt.Fprintf(cmd.OutOrStdout(), "lab is up: `firewatch lab exec%s -- CMD` runs CMD inside; `firewatch lab down%s` removes it\n", flag, flag)
			return nil
		},
	}
	scenarioFlags(c, &scenarioPath, &seed)
	return c
}

func newLabDownCmd() *cobra.Command {
	var all bool
	c := &cobra.Command{
		Use:   "down [--name NAME | --all]",
		Short: "Remove a lab (daemons, namespaces, links, resolv.conf files, state), also a crashed one; idempotent",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !all {
				return labDown(nameFlag(cmd), stateFlag(cmd))
			}
			if labSelected(cmd) {
				return errors.New("--all removes every lab: it takes no --name or --state")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			names, err := lab.DownAll(ctx)
			if len(names) == 0 && err == nil {
				fmt.Fprintln(cmd.OutOrStdout(), "no lab to remove")
			} else if len(names) > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "removed: %s\n", strings.Join(names, " "))
			}
			return err
		},
	}
	c.Flags().BoolVar(&all, "all", false, "remove every firewatch lab on this machine (each state directory in "+lab.StateRoot+" and every set of NAME-inside ... NAME-outside namespaces)")
	return c
}

func newLabStatusCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "status [--name NAME] [--json]",
		Short: "List every lab on this machine, or (--name) show one lab's topology, resolvers, trust files, control and health",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !labSelected(cmd) {
				return labStatusAll(cmd, asJSON)
			}
			s, err := lab.GetStatus(cmd.Context(), nameFlag(cmd), stateFlag(cmd))
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
				fmt.Fprintf(out, "lab %s: not running\n", s.Name)
				if len(s.Leftovers) > 0 {
					fmt.Fprintf(out, "leftover namespaces: %v (run `firewatch lab down --name %s`)\n", s.Leftovers, s.Name)
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
				if derr := labDown(nameFlag(cmd), stateFlag(cmd)); derr != nil && err == nil {
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

// labStatusAll prints one line per lab on the machine; the exit status is 1
// when a lab is degraded or left over, 0 when every lab is up or none exists.
func labStatusAll(cmd *cobra.Command, asJSON bool) error {
	ss, err := lab.ListStatus(cmd.Context())
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	healthy := true
	for _, s := range ss {
		healthy = healthy && s.Up
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Labs []*lab.Status `json:"labs"`
		}{append([]*lab.Status{}, ss...)}); err != nil {
			return err
		}
	} else if len(ss) == 0 {
		fmt.Fprintln(out, "no lab is running")
	} else {
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSTATUS\tSCENARIO\tUP SINCE\tSTATE DIRECTORY")
		for _, s := range ss {
			switch {
			case s.State != nil:
				status := "up"
				if !s.Up {
					status = fmt.Sprintf("DEGRADED (%d checks failed)", len(lab.Failed(s.Checks)))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, status, s.State.ScenarioName, s.State.Created.Local().Format("2006-01-02 15:04:05"), s.StateDir)
			default:
				fmt.Fprintf(tw, "%s\tLEFT OVER (%s; run `firewatch lab down --name %s`)\t-\t-\t-\n", s.Name, strings.Join(s.Leftovers, " "), s.Name)
			}
		}
		tw.Flush()
	}
	if !healthy {
		return exitError{1}
	}
	return nil
}
