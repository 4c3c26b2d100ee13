package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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
			if len(sc.Expect)+len(sc.ExpectTrace)+len(sc.ExpectKeywords) == 0 && sc.ExpectDNS == nil {
				return fmt.Errorf("%s: the scenario has no expect, expect_trace, expect_keywords or expect_dns list: nothing to verify", scenarioPath)
			}
			for _, e := range sc.Expect {
				if _, err := target.Parse(e.Target); err != nil {
					return fmt.Errorf("%s:%d: expect target %q: %w", scenarioPath, e.Line, e.Target, err)
				}
			}
			for _, e := range sc.ExpectTrace {
				if _, err := target.Parse(e.Target); err != nil {
					return fmt.Errorf("%s:%d: expect_trace target %q: %w", scenarioPath, e.Line, e.Target, err)
				}
			}
			for _, e := range sc.ExpectKeywords {
				if _, err := target.Parse(e.Target); err != nil {
					return fmt.Errorf("%s:%d: expect_keywords target %q: %w", scenarioPath, e.Line, e.Target, err)
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
			check := func(ctx context.Context, e scenario.Expect) ([]*model.Measurement, error) {
				ctx, cancel := context.WithTimeout(ctx, perTarget)
				defer cancel()
				return runCheckInside(ctx, dir, exe, e)
			}
			pass, fail := 0, 0
			out := cmd.OutOrStdout()
			verify.All(cmd.Context(), sc.Expect, check, parallel, func(r verify.Result) {
				if cmd.Context().Err() != nil {
					return // interrupted: the rest would only say so
				}
				if r.Pass {
					pass++
				} else {
					fail++
				}
				verify.WriteResult(out, r, asJSON)
			})
			if sc.ExpectDNS != nil && cmd.Context().Err() == nil {
				r := runDNSScanOutside(cmd.Context(), dir, exe, scenarioPath, sc.ExpectDNS)
				if r.Pass {
					pass++
				} else {
					fail++
				}
				verify.WriteResult(out, r, asJSON)
			}
			verifyPaths(cmd.Context(), sc, dir, exe, perTarget, parallel, func(r verify.PathResult) {
				if cmd.Context().Err() != nil {
					return
				}
				if r.Pass {
					pass++
				} else {
					fail++
				}
				verify.WritePathResult(out, r, asJSON)
			})
			if err := cmd.Context().Err(); err != nil {
				return fmt.Errorf("lab verify: interrupted: %w", err)
			}
			fmt.Fprintln(out, verify.ClosingLine(pass, fail))
			if fail > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	c.Flags().StringVar(&scenarioPath, "scenario", "", "scenario file (YAML) with an expect list")
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per target")
	c.Flags().Int64Var(&seed, "seed", 0, "seed of the censor's random choices, when verify brings the lab up; 0: the scenario's seed, else 1")
	c.Flags().IntVar(&parallel, "parallel", 4, "targets measured at the same time")
	c.Flags().DurationVar(&perTarget, "target-timeout", 4*time.Minute, "longest time one target may take (retests included)")
	_ = c.MarkFlagRequired("scenario")
	return c
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

// verifyPaths runs `firewatch trace --json` for every expect_trace entry and
// `firewatch keywords isolate --json` for every expect_keywords entry inside,
// parallel at a time, and emits the results in the file's order.
func verifyPaths(ctx context.Context, sc *scenario.Scenario, dir, exe string, perTarget time.Duration, parallel int, emit func(verify.PathResult)) {
	var jobs []func() verify.PathResult
	for _, e := range sc.ExpectTrace {
		jobs = append(jobs, func() verify.PathResult {
			out, err := runInside(ctx, dir, perTarget, exe, "trace", "--json", "--", e.Target)
			return verify.JudgeTrace(e, out, err)
		})
	}
	for _, e := range sc.ExpectKeywords {
		jobs = append(jobs, func() verify.PathResult {
			out, err := runInside(ctx, dir, perTarget, exe, "keywords", "isolate", "--json", "--", e.Target)
			return verify.JudgeKeywords(e, out, err)
		})
	}
	results := make([]chan verify.PathResult, len(jobs))
	sem := make(chan struct{}, max(parallel, 1))
	for i, job := range jobs {
		results[i] = make(chan verify.PathResult, 1)
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] <- job()
		}()
	}
	for _, r := range results {
		emit(<-r)
	}
}

// runInside runs a firewatch command in the inside vantage and returns its
// standard output; a non-zero exit is an error carrying the end of stderr.
func runInside(ctx context.Context, dir string, timeout time.Duration, argv ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code, err := lab.Exec(ctx, dir, lab.ExecSpec{From: lab.FromInside, Argv: argv, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return stdout.Bytes(), fmt.Errorf("firewatch %s: exit status %d: %s", argv[1], code, tail(stderr.String(), 300))
	}
	return stdout.Bytes(), nil
}

// runDNSScanOutside runs `firewatch scan dns --via` from the outside vantage
// over the domains of a scenario's expect_dns (unlimited rate: the scan
// crosses the censor as fast as it can) and judges the records.
func runDNSScanOutside(ctx context.Context, dir, exe, scenarioPath string, e *scenario.ExpectDNS) verify.Result {
	tmp, err := os.MkdirTemp("", "firewatch-verify-dns-")
	if err != nil {
		return verify.JudgeDNS(e, nil, "", err)
	}
	defer os.RemoveAll(tmp)
	domains := filepath.Join(filepath.Dir(scenarioPath), e.DomainsFile)
	if e.DomainsFile == "" {
		domains = filepath.Join(tmp, "domains.txt")
		if err := os.WriteFile(domains, []byte(strings.Join(e.Domains, "\n")+"\n"), 0o644); err != nil {
			return verify.JudgeDNS(e, nil, "", err)
		}
	}
	via := []string{lab.ProbeAddr.String()}
	if len(e.Via) > 0 {
		via = via[:0]
		for _, a := range e.Via {
			via = append(via, a.String())
		}
	}
	out := filepath.Join(tmp, "records.jsonl")
	argv := []string{exe, "scan", "dns", "--domains", domains, "--via", strings.Join(via, ","), "--rate", "0", "--out", out, "--no-progress"}
	var stderr bytes.Buffer
	code, err := lab.Exec(ctx, dir, lab.ExecSpec{From: lab.FromOutside, Argv: argv, Stdout: io.Discard, Stderr: &stderr})
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	summary := lines[len(lines)-1]
	if err == nil && code != 0 {
		err = fmt.Errorf("firewatch scan dns: exit status %d: %s", code, tail(stderr.String(), 300))
	}
	if err != nil {
		return verify.JudgeDNS(e, nil, "", err)
	}
	f, err := os.Open(out)
	if err != nil {
		return verify.JudgeDNS(e, nil, "", err)
	}
	defer f.Close()
	return verify.JudgeDNS(e, bufio.NewReaderSize(f, 1<<20), summary, nil)
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
