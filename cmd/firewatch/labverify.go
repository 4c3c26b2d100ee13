package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/firewatch/firewatch/internal/lab"
	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/target"
)

func init() { labCommands = append(labCommands, newLabVerifyCmd) }

// verifyOutcome is a status and a set of methods, as expected or as found.
type verifyOutcome struct {
	Status  string   `json:"status"`
	Methods []string `json:"methods"`
}

// verifyResult is the comparison of one expect entry with what the probe
// found; its JSON form is the line `lab verify --json` prints per target.
type verifyResult struct {
	Target   string        `json:"target"`
	Expected verifyOutcome `json:"expected"`
	Got      verifyOutcome `json:"got"`
	Pass     bool          `json:"pass"`
	Evidence []string      `json:"evidence"`
}

// verifyCheckFunc runs the probe inside the lab over one expect entry and
// returns its records (one per measured target: two for a bare domain).
type verifyCheckFunc func(ctx context.Context, e scenario.Expect) ([]*model.Measurement, error)

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
			check := func(ctx context.Context, e scenario.Expect) ([]*model.Measurement, error) {
				ctx, cancel := context.WithTimeout(ctx, perTarget)
				defer cancel()
				return runCheckInside(ctx, dir, exe, e)
			}
			pass, fail := 0, 0
			out := cmd.OutOrStdout()
			verifyAll(cmd.Context(), sc.Expect, check, parallel, func(r verifyResult) {
				if cmd.Context().Err() != nil {
					return // interrupted: the rest would only say so
				}
				if r.Pass {
					pass++
				} else {
					fail++
				}
				writeVerifyResult(out, r, asJSON)
			})
			if err := cmd.Context().Err(); err != nil {
				return fmt.Errorf("lab verify: interrupted: %w", err)
			}
			fmt.Fprintln(out, closingLine(pass, fail))
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
	ms, perr := parseRecords(&stdout)
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

// parseRecords reads a stream of JSON measurement records.
func parseRecords(r io.Reader) ([]*model.Measurement, error) {
	dec := json.NewDecoder(r)
	var out []*model.Measurement
	for {
		var m model.Measurement
		err := dec.Decode(&m)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("record %d: %w", len(out)+1, err)
		}
		out = append(out, &m)
	}
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

// verifyAll checks every expect entry, at most parallel at a time, and calls
// emit with each result in the order of the expect list.
func verifyAll(ctx context.Context, expects []scenario.Expect, check verifyCheckFunc, parallel int, emit func(verifyResult)) {
	results := make([]chan verifyResult, len(expects))
	for i := range results {
		results[i] = make(chan verifyResult, 1)
	}
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for i, e := range expects {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] <- judge(e, nil, ctx.Err())
				return
			}
			defer func() { <-sem }()
			ms, err := check(ctx, e)
			results[i] <- judge(e, ms, err)
		}()
	}
	for i := range results {
		emit(<-results[i])
	}
	wg.Wait()
}

// judge compares an expectation with the records the probe printed for it.
// Every record must have the expected status and exactly the expected set of
// methods. When they do not all match, got is the first record that does not.
func judge(e scenario.Expect, ms []*model.Measurement, runErr error) verifyResult {
	r := verifyResult{
		Target:   e.Target,
		Expected: verifyOutcome{Status: e.Status, Methods: methodSet(e.Methods)},
		Evidence: []string{},
	}
	if runErr != nil || len(ms) == 0 {
		why := "no record"
		if runErr != nil {
			why = runErr.Error()
		}
		r.Got = verifyOutcome{Status: model.StatusError, Methods: []string{}}
		r.Evidence = append(r.Evidence, "probe failed: "+why)
		return r
	}
	want := 1
	if ts, err := target.Parse(e.Target); err == nil {
		want = len(ts)
	}
	r.Pass = len(ms) == want
	pick := ms[0]
	for _, m := range ms {
		if m.Status != e.Status || !sameMethods(m.Methods, e.Methods) {
			if r.Pass {
				pick = m
			}
			r.Pass = false
		}
	}
	r.Got = verifyOutcome{Status: pick.Status, Methods: methodSet(pick.Methods)}
	prefix := len(ms) > 1
	for _, m := range ms {
		r.Evidence = append(r.Evidence, evidenceLines(m, prefix)...)
	}
	if len(ms) != want {
		r.Evidence = append(r.Evidence, fmt.Sprintf("probe printed %d records, want %d", len(ms), want))
	}
	return r
}

// evidenceLines flattens a record's verdict into readable lines, each
// prefixed with the record's target when prefix is set.
func evidenceLines(m *model.Measurement, prefix bool) []string {
	p := ""
	if prefix {
		p = m.Target + ": "
	}
	var out []string
	if m.Verdict == nil {
		return append(out, p+"no verdict (status "+m.Status+")")
	}
	v := m.Verdict
	for _, ev := range v.Evidence {
		for _, l := range ev.Lines {
			out = append(out, p+ev.Method+": "+l)
		}
	}
	if v.Reason != "" {
		out = append(out, p+"reason: "+v.Reason)
	}
	if v.Confidence != nil && v.Confidence.Tries > 1 {
		out = append(out, fmt.Sprintf("%sconfidence: %d of %d tries agreed", p, v.Confidence.Agreed, v.Confidence.Tries))
	}
	if v.Weak {
		out = append(out, p+"weak verdict: no control")
	}
	return out
}

// methodSet returns the methods sorted, without duplicates, never nil.
func methodSet(ms []string) []string {
	out := slices.Clone(ms)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// sameMethods reports whether a and b hold the same set of methods.
func sameMethods(a, b []string) bool { return slices.Equal(methodSet(a), methodSet(b)) }

// closingLine is the last line of `lab verify`.
func closingLine(pass, fail int) string { return fmt.Sprintf("%d passed, %d failed", pass, fail) }

// formatOutcome renders a status and its methods: "blocked [tls.mitm]".
func formatOutcome(o verifyOutcome) string {
	if len(o.Methods) == 0 {
		return o.Status
	}
	return o.Status + " [" + strings.Join(o.Methods, ",") + "]"
}

// writeVerifyResult prints one result as a text line or a JSON object.
func writeVerifyResult(w io.Writer, r verifyResult, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(r)
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	mark := "PASS"
	if !r.Pass {
		mark = "FAIL"
	}
	line := fmt.Sprintf("%s  %s  expected %s  got %s", mark, r.Target, formatOutcome(r.Expected), formatOutcome(r.Got))
	if len(r.Evidence) > 0 {
		line += "  evidence: " + strings.Join(r.Evidence, "; ")
	}
	fmt.Fprintln(w, strings.ReplaceAll(line, "\n", " "))
}
