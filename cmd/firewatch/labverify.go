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
	var o verifyOptions
	var scenarios []string
	var parallelLabs int
	c := &cobra.Command{
		Use:   "verify --scenario FILE [--scenario FILE ...] [--parallel-labs N] [--json]",
		Short: "Run the probe inside the lab over a scenario's expect list and compare the verdicts",
		Long: `Bring the lab up from the scenario (or use the running lab built from the same
file), run ` + "`firewatch check --json`" + ` inside for every entry of the scenario's
expect list, with the control in the outside vantage, and compare the status
and the set of methods with the expectation. Prints one line per target and a
closing line "N passed, N failed"; exits with status 1 on any mismatch. A lab
it brought up is torn down at the end, also on failure or Ctrl-C.

With several --scenario flags, each scenario gets a lab of its own, named
NAME1, NAME2, ... after --name, and --parallel-labs of them run at once.
Each scenario's lines are printed as one block, in the order given, after a
line "=== FILE (lab NAME)" and ending with its own "N passed, N failed";
the last line is the total.

A bare domain as target measures https:// and http://: the expectation
applies to each of the two records, and the entry passes when both match.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.parallel < 1 {
				return fmt.Errorf("--parallel %d: must be at least 1", o.parallel)
			}
			if parallelLabs < 1 {
				return fmt.Errorf("--parallel-labs %d: must be at least 1", parallelLabs)
			}
			for _, p := range scenarios {
				if err := checkVerifyScenario(p); err != nil {
					return err
				}
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("lab verify: own executable: %w", err)
			}
			o.exe = exe
			if len(scenarios) == 1 {
				pass, fail, err := verifyScenario(cmd, o, scenarios[0], nameFlag(cmd), stateFlag(cmd), cmd.OutOrStdout(), cmd.ErrOrStderr())
				return verifyExit(pass, fail, err)
			}
			if cmd.Flags().Changed("state") {
				return errors.New("--state names one lab: with several scenarios each gets the state directory of its own lab name")
			}
			type block struct {
				out, errOut bytes.Buffer
				pass, fail  int
				err         error
				done        chan struct{}
			}
			blocks := make([]*block, len(scenarios))
			names := make([]string, len(scenarios))
			for i := range scenarios {
				names[i] = fmt.Sprintf("%s%d", nameFlag(cmd), i+1)
				if err := lab.CheckName(names[i]); err != nil {
					return fmt.Errorf("--name %s with %d scenarios: %w", nameFlag(cmd), len(scenarios), err)
				}
				blocks[i] = &block{done: make(chan struct{})}
			}
			sem := make(chan struct{}, parallelLabs)
			for i, p := range scenarios {
				go func() {
					b := blocks[i]
					defer close(b.done)
					select {
					case sem <- struct{}{}:
					case <-cmd.Context().Done():
						b.err = cmd.Context().Err()
						return
					}
					defer func() { <-sem }()
					b.pass, b.fail, b.err = verifyScenario(cmd, o, p, names[i], lab.StateDir(names[i]), &b.out, &b.errOut)
				}()
			}
			pass, fail := 0, 0
			var errs []error
			for i, b := range blocks {
				<-b.done
				fmt.Fprintf(cmd.OutOrStdout(), "=== %s (lab %s)\n", scenarios[i], names[i])
				cmd.ErrOrStderr().Write(b.errOut.Bytes())
				cmd.OutOrStdout().Write(b.out.Bytes())
				pass += b.pass
				fail += b.fail
				if b.err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "lab verify %s: %v\n", scenarios[i], b.err)
					errs = append(errs, fmt.Errorf("%s: %w", scenarios[i], b.err))
				}
			}
			fmt.Fprintln(cmd.OutOrStdout(), verify.ClosingLine(pass, fail))
			return verifyExit(pass, fail, errors.Join(errs...))
		},
	}
	c.Flags().StringArrayVar(&scenarios, "scenario", nil, "scenario file (YAML) with an expect list; repeat for several, each in a lab of its own")
	c.Flags().BoolVar(&o.asJSON, "json", false, "print one JSON object per target")
	c.Flags().Int64Var(&o.seed, "seed", 0, "seed of the censor's random choices, when verify brings the lab up; 0: the scenario's seed, else 1")
	c.Flags().IntVar(&o.parallel, "parallel", 4, "targets measured at the same time in each lab")
	c.Flags().IntVar(&parallelLabs, "parallel-labs", 2, "labs (scenarios) verified at the same time")
	c.Flags().DurationVar(&o.perTarget, "target-timeout", 4*time.Minute, "longest time one target may take (retests included)")
	_ = c.MarkFlagRequired("scenario")
	return c
}

// verifyOptions are the flags of `lab verify` that apply to every scenario.
type verifyOptions struct {
	asJSON    bool
	seed      int64
	parallel  int
	perTarget time.Duration
	exe       string
}

// verifyExit turns the totals into the command's result: an error, or exit
// status 1 on any mismatch.
func verifyExit(pass, fail int, err error) error {
	if err != nil {
		return err
	}
	if fail > 0 {
		return exitError{1}
	}
	return nil
}

// checkVerifyScenario refuses, before any lab is built, a scenario that
// cannot be verified.
func checkVerifyScenario(path string) error {
	sc, err := scenario.Load(path)
	if err != nil {
		return err
	}
	if len(sc.Expect) == 0 && sc.ExpectDNS == nil {
		return fmt.Errorf("%s: the scenario has no expect list: nothing to verify", path)
	}
	for _, e := range sc.Expect {
		if _, err := target.Parse(e.Target); err != nil {
			return fmt.Errorf("%s:%d: expect target %q: %w", path, e.Line, e.Target, err)
		}
	}
	return nil
}

// verifyScenario verifies one scenario in the lab called name (state in
// dir), printing its results and closing line to out and the lab's progress
// to errOut.
func verifyScenario(cmd *cobra.Command, o verifyOptions, scenarioPath, name, dir string, out, errOut io.Writer) (pass, fail int, err error) {
	sc, err := scenario.Load(scenarioPath)
	if err != nil {
		return 0, 0, err
	}
	st, up, err := verifyLab(cmd, scenarioPath, name, dir, o.seed, errOut)
	if err != nil {
		return 0, 0, err
	}
	if up {
		defer func() {
			if derr := labDown(name, dir); derr != nil && err == nil {
				err = derr
			}
		}()
	}
	if st.ControlURL == "" {
		fmt.Fprintln(errOut, "lab verify: no control runs in the lab: every verdict is weak")
	}
	check := func(ctx context.Context, e scenario.Expect) ([]*model.Measurement, error) {
		ctx, cancel := context.WithTimeout(ctx, o.perTarget)
		defer cancel()
		return runCheckInside(ctx, dir, o.exe, e)
	}
	verify.All(cmd.Context(), sc.Expect, check, o.parallel, func(r verify.Result) {
		if cmd.Context().Err() != nil {
			return // interrupted: the rest would only say so
		}
		if r.Pass {
			pass++
		} else {
			fail++
		}
		verify.WriteResult(out, r, o.asJSON)
	})
	if sc.ExpectDNS != nil && cmd.Context().Err() == nil {
		r := runDNSScanOutside(cmd.Context(), dir, o.exe, scenarioPath, sc.ExpectDNS)
		if r.Pass {
			pass++
		} else {
			fail++
		}
		verify.WriteResult(out, r, o.asJSON)
	}
	if err := cmd.Context().Err(); err != nil {
		return pass, fail, fmt.Errorf("lab verify: interrupted: %w", err)
	}
	fmt.Fprintln(out, verify.ClosingLine(pass, fail))
	return pass, fail, nil
}

// verifyLab returns the running lab called name when it was built from
// scenarioPath, or brings one up (up is then true: the caller tears it
// down). A lab of that name running another scenario is an error.
func verifyLab(cmd *cobra.Command, scenarioPath, name, dir string, seed int64, errOut io.Writer) (st *lab.State, up bool, err error) {
	st, err = lab.LoadState(dir)
	if err == nil {
		if !sameFile(st.Scenario, scenarioPath) {
			return nil, false, fmt.Errorf("lab %s runs another scenario (%s, from %s): run `firewatch lab down --name %s` first, verify that scenario, or choose another --name", name, st.ScenarioName, st.Scenario, name)
		}
		fmt.Fprintf(errOut, "lab verify: using the running lab %s (scenario %s)\n", name, st.ScenarioName)
		return st, false, nil
	}
	if !errors.Is(err, lab.ErrNotRunning) {
		return nil, false, err
	}
	st, err = labUpAs(cmd, name, dir, scenarioPath, seed, errOut)
	if err != nil {
		return nil, false, err
	}
	st.WriteSummary(errOut)
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
