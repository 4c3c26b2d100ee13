package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	var o verifyOptions
	var scenarios []string
	var parallelLabs int
	c := &cobra.Command{
		Use:   "verify --scenario FILE [--scenario FILE ...] [--parallel-labs N] [--json]",
		Short: "Run the probe inside the lab over a scenario's expect list and compare the verdicts",
		Long: `Bring the lab up from the scenario (or use the running lab built from the same
file), measure every entry of the scenario's expect list inside with
` + "`firewatch run`" + ` (one run per resolver the entries name, --parallel targets at
once), with the control in the outside vantage, and compare the status and
the set of methods with the expectation. Prints one line per target in the
order of the list, a progress line on stderr every 5 s, and a closing line
"N passed, N failed"; exits with status 1 on any mismatch. Records are judged
as they arrive and dropped, so memory does not grow with the list. A lab it
brought up is torn down at the end, also on failure or Ctrl-C.

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
	c.Flags().IntVar(&o.parallel, "parallel", defaultVerifyParallel, "targets measured at the same time in each lab")
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
	if len(sc.Expect)+len(sc.ExpectTrace)+len(sc.ExpectKeywords) == 0 && sc.ExpectDNS == nil {
		return fmt.Errorf("%s: the scenario has no expect, expect_trace, expect_keywords or expect_dns list: nothing to verify", path)
	}
	for _, e := range sc.Expect {
		if _, err := target.Parse(e.Target); err != nil {
			return fmt.Errorf("%s:%d: expect target %q: %w", path, e.Line, e.Target, err)
		}
	}
	for _, e := range sc.ExpectTrace {
		if _, err := target.Parse(e.Target); err != nil {
			return fmt.Errorf("%s:%d: expect_trace target %q: %w", path, e.Line, e.Target, err)
		}
	}
	for _, e := range sc.ExpectKeywords {
		if _, err := target.Parse(e.Target); err != nil {
			return fmt.Errorf("%s:%d: expect_keywords target %q: %w", path, e.Line, e.Target, err)
		}
	}
	return nil
}

// verifyScenario verifies one scenario in the lab called name (state in
// dir), printing its results and closing line to out and the lab's progress
// to errOut.
func verifyScenario(cmd *cobra.Command, o verifyOptions, scenarioPath, name, dir string, out, errOut io.Writer) (passed, failed int, err error) {
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
	switch {
	case st.ControlDown:
		fmt.Fprintln(errOut, "lab verify: the scenario's control is down (control: down): the probe's questions to it are refused")
	case st.ControlURL == "":
		fmt.Fprintln(errOut, "lab verify: no control runs in the lab: every verdict is weak")
	}
	var measured, pass, fail atomic.Int64
	stopProgress := progressLine(errOut, len(sc.Expect), &measured, &pass, &fail, progressEvery)
	run := func(ctx context.Context, resolver string, expects []scenario.Expect, records func(*model.Measurement)) error {
		return runListInside(ctx, dir, o.exe, resolver, expects, o.parallel, o.perTarget, records)
	}
	verifyList(cmd.Context(), sc.Expect, run, func() { measured.Add(1) }, func(r verify.Result) {
		if cmd.Context().Err() != nil {
			return // interrupted: the rest would only say so
		}
		if r.Pass {
			pass.Add(1)
		} else {
			fail.Add(1)
		}
		verify.WriteResult(out, r, o.asJSON)
	})
	stopProgress()
	if sc.ExpectDNS != nil && cmd.Context().Err() == nil {
		r := runDNSScanOutside(cmd.Context(), dir, o.exe, scenarioPath, sc.ExpectDNS)
		if r.Pass {
			pass.Add(1)
		} else {
			fail.Add(1)
		}
		verify.WriteResult(out, r, o.asJSON)
	}
	// Traces and isolations keep the parallelism they had before the
	// expect list was measured with one run (TTL-limited probes).
	verifyPaths(cmd.Context(), sc, dir, o.exe, o.perTarget, min(o.parallel, pathParallel), func(r verify.PathResult) {
		if cmd.Context().Err() != nil {
			return
		}
		if r.Pass {
			pass.Add(1)
		} else {
			fail.Add(1)
		}
		verify.WritePathResult(out, r, o.asJSON)
	})
	if err := cmd.Context().Err(); err != nil {
		return int(pass.Load()), int(fail.Load()), fmt.Errorf("lab verify: interrupted: %w", err)
	}
	fmt.Fprintln(out, verify.ClosingLine(int(pass.Load()), int(fail.Load())))
	return int(pass.Load()), int(fail.Load()), nil
}

// defaultVerifyParallel is lab verify's default --parallel: enough that a
// 1,000-target scenario's blackholes (a connect timeout per try) do not idle
// the rest.
const defaultVerifyParallel = 128

// pathParallel bounds the traces and keyword isolations lab verify runs at
// once.
const pathParallel = 4

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

// listRunFunc measures expects (entries sharing one resolver, "" for the
// system's) with one `firewatch run` inside the lab, calling records with
// each record as it arrives.
type listRunFunc func(ctx context.Context, resolver string, expects []scenario.Expect, records func(*model.Measurement)) error

// verifyList measures every expect entry, one list run per resolver (all at
// once), matches the records to the entries by their input line, judges each
// entry as soon as its records are in (and drops them), and calls emit with
// each result in the order of the expect list (judged is called as each
// entry is judged). Memory holds the judged results printed later than
// they were judged, never the records.
func verifyList(ctx context.Context, expects []scenario.Expect, run listRunFunc, judged func(), emit func(verify.Result)) {
	type pending struct {
		idx  int
		want int
		ms   []*model.Measurement
	}
	type result struct {
		idx int
		r   verify.Result
	}
	results := make(chan result, 64)
	groups := map[string][]int{}
	var order []string
	for i, e := range expects {
		if _, ok := groups[e.Resolver]; !ok {
			order = append(order, e.Resolver)
		}
		groups[e.Resolver] = append(groups[e.Resolver], i)
	}
	var wg sync.WaitGroup
	for _, res := range order {
		idxs := groups[res]
		wg.Add(1)
		go func() {
			defer wg.Done()
			byInput := map[string][]*pending{}
			var list []scenario.Expect
			for _, i := range idxs {
				want := 1
				if ts, err := target.Parse(expects[i].Target); err == nil {
					want = len(ts)
				}
				in := strings.TrimSpace(expects[i].Target)
				byInput[in] = append(byInput[in], &pending{idx: i, want: want})
				list = append(list, expects[i])
			}
			var mu sync.Mutex
			err := run(ctx, res, list, func(m *model.Measurement) {
				mu.Lock()
				defer mu.Unlock()
				in := strings.TrimSpace(m.Input)
				ps := byInput[in]
				if len(ps) == 0 {
					return // not ours (cannot happen: the list holds only our inputs)
				}
				p := ps[0]
				p.ms = append(p.ms, m)
				if len(p.ms) == p.want {
					byInput[in] = ps[1:]
					judged()
					results <- result{p.idx, verify.Judge(expects[p.idx], p.ms, nil)}
				}
			})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				err = errors.New("firewatch run ended without this target's record")
			}
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			for _, ps := range byInput {
				for _, p := range ps {
					judged()
					results <- result{p.idx, verify.Judge(expects[p.idx], nil, err)}
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	held := map[int]verify.Result{}
	next := 0
	for j := range results {
		held[j.idx] = j.r
		for {
			r, ok := held[next]
			if !ok {
				break
			}
			delete(held, next)
			emit(r)
			next++
		}
	}
}

// runListInside measures expects with one `firewatch run` in the inside
// vantage (the list written to a temporary file, the records read from its
// standard output as they are written), with at most parallel targets at
// once and each target at most perTarget.
func runListInside(ctx context.Context, dir, exe, resolver string, expects []scenario.Expect, parallel int, perTarget time.Duration, records func(*model.Measurement)) error {
	f, err := os.CreateTemp("", "firewatch-verify-*.list")
	if err != nil {
		return fmt.Errorf("lab verify: list: %w", err)
	}
	defer os.Remove(f.Name())
	cw := csv.NewWriter(f)
	for _, e := range expects {
		cw.Write([]string{strings.TrimSpace(e.Target)})
	}
	cw.Flush()
	if err := errors.Join(cw.Error(), f.Close()); err != nil {
		return fmt.Errorf("lab verify: list: %w", err)
	}
	argv := []string{exe, "run", "--list", f.Name(), "--out", "/dev/stdout", "--no-progress",
		"--concurrency", strconv.Itoa(parallel), "--target-timeout", perTarget.String()}
	if resolver != "" {
		argv = append(argv, "--resolver", resolver)
	}
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	type exit struct {
		code int
		err  error
	}
	done := make(chan exit, 1)
	go func() {
		code, err := lab.Exec(ctx, dir, lab.ExecSpec{From: lab.FromInside, Argv: argv, Stdout: pw, Stderr: &stderr})
		pw.Close()
		done <- exit{code, err}
	}()
	dec := json.NewDecoder(pr)
	var decErr error
	for {
		var m model.Measurement
		if err := dec.Decode(&m); err != nil {
			if !errors.Is(err, io.EOF) {
				decErr = fmt.Errorf("firewatch run output: %w", err)
			}
			break
		}
		records(&m)
	}
	io.Copy(io.Discard, pr) // let the run finish writing
	x := <-done
	switch {
	case x.err != nil:
		return x.err
	case decErr != nil:
		return decErr
	case x.code != 0:
		return fmt.Errorf("firewatch run exited with status %d (stderr: %s)", x.code, tail(stderr.String(), 300))
	}
	return nil
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

// runDNSScanOutside runs `firewatch scan dns` from the outside vantage over
// the domains of a scenario's expect_dns (--via, or --resolvers compared
// with a control resolver outside; unlimited rate: the scan crosses the
// censor as fast as it can) and judges the records.
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
	out := filepath.Join(tmp, "records.jsonl")
	argv := []string{exe, "scan", "dns", "--domains", domains, "--rate", "0", "--out", out, "--no-progress"}
	if len(e.Resolvers) > 0 {
		var list strings.Builder
		for _, a := range e.Resolvers {
			list.WriteString(a.String() + "\n")
		}
		resolvers := filepath.Join(tmp, "resolvers.txt")
		if err := os.WriteFile(resolvers, []byte(list.String()), 0o644); err != nil {
			return verify.JudgeDNS(e, nil, "", err)
		}
		control := lab.PublicResolver
		if e.ControlResolver.IsValid() {
			control = e.ControlResolver
		}
		argv = append(argv, "--resolvers", resolvers, "--control-resolver", "udp://"+netip.AddrPortFrom(control, 53).String(),
			"--control-names", strings.Join(e.ControlNames, ","))
	} else {
		via := []string{lab.ProbeAddr.String()}
		if len(e.Via) > 0 {
			via = via[:0]
			for _, a := range e.Via {
				via = append(via, a.String())
			}
		}
		argv = append(argv, "--via", strings.Join(via, ","))
	}
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
