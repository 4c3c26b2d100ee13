package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/firewatch/firewatch/internal/lab"
	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/lab/verify"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/target"
)

func init() { labCommands = append(labCommands, newLabVerifyCmd) }

func newLabVerifyCmd() *cobra.Command {
	var scenarioPath string
	var asJSON bool
	var seed int64
	var parallel int
	var perTarget time.Duration
	c := &cobra.Command{
		Use:   "verify --scenario FILE [--json]",
		Short: "Run the probe inside the lab over a scenario's expect list and compare the verdicts",
		Long: `Bring the lab up from the scenario (or use the running lab built from the same
file), run ` + "`firewatch check --json`" + ` inside for every entry of the scenario's
expect list, with the control in the outside vantage, and compare the status
and the set of methods with the expectation. Prints one line per target and a
closing line "N passed, N failed"; exits with status 1 on any mismatch. A lab
it brought up is torn down at the end, also on failure or Ctrl-C.

A bare domain as target measures https:// and http://: the expectation
applies to each of the two records, and the entry passes when both match.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if parallel < 1 {
				return fmt.Errorf("--parallel %d: must be at least 1", parallel)
			}
			sc, err := scenario.Load(scenarioPath)
			if err != nil {
				return err
			}
			if len(sc.Expect) == 0 {
				return fmt.Errorf("%s: the scenario has no expect list: nothing to verify", scenarioPath)
			}
			for _, e := range sc.Expect {
				if _, err := target.Parse(e.Target); err != nil {
					return fmt.Errorf("%s:%d: expect target %q: %w", scenarioPath, e.Line, e.Target, err)
				}
			}
			dir := stateFlag(cmd)
			st, up, err := verifyLab(cmd, scenarioPath, seed)
			if err != nil {
				return err
			}
			if up {
				defer func() {
					if derr := labDown(dir); derr != nil && err == nil {
						err = derr
					}
				}()
			}
			if st.ControlURL == "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "lab verify: no control runs in the lab: every verdict is weak")
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("lab verify: own executable: %w", err)
			}
			var measured, pass, fail atomic.Int64
			check := func(ctx context.Context, e scenario.Expect) ([]*model.Measurement, error) {
				defer measured.Add(1)
				ctx, cancel := context.WithTimeout(ctx, perTarget)
				defer cancel()
				return runCheckInside(ctx, dir, exe, e)
			}
			out := cmd.OutOrStdout()
			stopProgress := progressLine(cmd.ErrOrStderr(), len(sc.Expect), &measured, &pass, &fail, progressEvery)
			verify.All(cmd.Context(), sc.Expect, check, parallel, func(r verify.Result) {
				if cmd.Context().Err() != nil {
					return // interrupted: the rest would only say so
				}
				if r.Pass {
					pass.Add(1)
				} else {
					fail.Add(1)
				}
				verify.WriteResult(out, r, asJSON)
			})
			stopProgress()
			if err := cmd.Context().Err(); err != nil {
				return fmt.Errorf("lab verify: interrupted: %w", err)
			}
			fmt.Fprintln(out, verify.ClosingLine(int(pass.Load()), int(fail.Load())))
			if fail.Load() > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	c.Flags().StringVar(&scenarioPath, "scenario", "", "scenario file (YAML) with an expect list")
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per target")
	c.Flags().Int64Var(&seed, "seed", 0, "seed of the censor's random choices, when verify brings the lab up; 0: the scenario's seed, else 1")
	c.Flags().IntVar(&parallel, "parallel", defaultVerifyParallel, "targets measured at the same time")
	c.Flags().DurationVar(&perTarget, "target-timeout", 4*time.Minute, "longest time one target may take (retests included)")
	_ = c.MarkFlagRequired("scenario")
	return c
}

// defaultVerifyParallel is lab verify's default --parallel: enough that a
// 1,000-target scenario's blackholes (a connect timeout per try) do not idle
// the rest.
const defaultVerifyParallel = 128

// progressEvery is how often lab verify prints its progress line.
const progressEvery = 5 * time.Second

// progressLine prints "lab verify: M of TOTAL measured, P passed, F failed,
// in Ts" to w every interval until the returned function is called (results
// are printed in the order of the expect list, so a slow entry can hold
// back the printing of those measured after it).
func progressLine(w io.Writer, total int, measured, pass, fail *atomic.Int64, every time.Duration) (stop func()) {
	start := time.Now()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(w, "lab verify: %d of %d measured, %d passed, %d failed, in %s\n",
					measured.Load(), total, pass.Load(), fail.Load(), time.Since(start).Round(time.Second))
			}
		}
	}()
	return func() { close(done); <-finished }
}

// verifyLab returns the running lab when it was built from scenarioPath, or
// brings one up (up is then true: the caller tears it down). A lab running
// another scenario is an error.
func verifyLab(cmd *cobra.Command, scenarioPath string, seed int64) (st *lab.State, up bool, err error) {
	st, err = lab.LoadState(stateFlag(cmd))
	if err == nil {
		if !sameFile(st.Scenario, scenarioPath) {
			return nil, false, fmt.Errorf("a lab with another scenario is running (%s, from %s): run `firewatch lab down` first, or verify that scenario", st.ScenarioName, st.Scenario)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "lab verify: using the running lab (scenario %s)\n", st.ScenarioName)
		return st, false, nil
	}
	if !errors.Is(err, lab.ErrNotRunning) {
		return nil, false, err
	}
	st, err = labUp(cmd, scenarioPath, seed)
	if err != nil {
		return nil, false, err
	}
	st.WriteSummary(cmd.ErrOrStderr())
	return st, true, nil
}

// sameFile reports whether two paths name the same file.
func sameFile(a, b string) bool {
	ia, err1 := os.Stat(a)
	ib, err2 := os.Stat(b)
	if err1 == nil && err2 == nil {
		return os.SameFile(ia, ib)
	}
	aa, _ := filepath.Abs(a)
	ab, _ := filepath.Abs(b)
	return aa == ab
}

// runCheckInside runs `firewatch check --json` for one expect entry in the
// inside vantage and returns the records it printed.
func runCheckInside(ctx context.Context, dir, exe string, e scenario.Expect) ([]*model.Measurement, error) {
	argv := append([]string{exe, "check", "--json"}, expectCheckArgs(e)...)
	argv = append(argv, "--", e.Target)
	var stdout, stderr bytes.Buffer
	code, err := lab.Exec(ctx, dir, lab.ExecSpec{From: lab.FromInside, Argv: argv, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		return nil, err
	}
	ms, perr := verify.ReadRecords(&stdout)
	if ctx.Err() != nil {
		return ms, fmt.Errorf("firewatch check: %w", ctx.Err())
	}
	if perr != nil {
		return ms, fmt.Errorf("firewatch check output: %w (stderr: %s)", perr, tail(stderr.String(), 300))
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("firewatch check printed no record (exit status %d; stderr: %s)", code, tail(stderr.String(), 300))
	}
	return ms, nil
}

// expectCheckArgs returns the extra `check` flags an expect entry asks for.
func expectCheckArgs(e scenario.Expect) []string {
	if e.Resolver != "" {
		return []string{"--resolver", e.Resolver}
	}
	return nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "(empty)"
	}
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return strings.ReplaceAll(s, "\n", " | ")
}
