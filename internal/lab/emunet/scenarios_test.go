package emunet

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/lab/verify"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/scenarios"
)

// scenarioRun is the outcome of one scenario's expect list.
type scenarioRun struct {
	err      error
	results  []verify.Result
	log      string
	duration time.Duration
}

// checksAtOnce bounds the expect entries measured at once across every
// scenario of TestShippedScenarios. Each entry's steps have a deadline
// (CheckOptions.Timeout); with hundreds of entries handshaking at once on a
// loaded 2-core machine, a step waits for the CPU longer than its deadline
// and a healthy site times out. The bound keeps the work the same and each
// step's wait short; a blackholed entry holds its place only while its
// connect waits out the deadline.
const checksAtOnce = 64

// stepTimeout is each probe step's deadline: a blackholed connect waits it
// out whatever it is, while a healthy step on a loaded 2-core CI machine
// (packages tested in parallel) can wait seconds for the CPU; the default
// 3 s made healthy sites time out there.
const stepTimeout = 5 * time.Second

// runScenario runs a scenario's expect list through probe → control →
// verdict on the emulated network, at most cap(inFlight) entries at once
// across the scenarios sharing inFlight.
// Without the censor's rules (uncensored), the same network shows what
// the censor changed.
func runScenario(name string, uncensored bool, inFlight chan struct{}) scenarioRun {
	start := time.Now()
	sc, err := scenario.ParseFS(scenarios.FS, name) // names files beside it
	if err != nil {
		return scenarioRun{err: err}
	}
	if uncensored {
		// only what the censor could have changed
		sc.Censor = slices.DeleteFunc(sc.Censor, func(scenario.Rule) bool { return true })
		sc.Expect = slices.DeleteFunc(sc.Expect, func(e scenario.Expect) bool { return e.Status != "blocked" })
	}
	log := &lockedBuffer{}
	n, err := New(sc, Options{Log: log, ThrottleScale: 4, LinkRate: 10 << 20})
	if err != nil {
		return scenarioRun{err: err}
	}
	defer n.Close()
	check, err := n.Checker(CheckOptions{Timeout: stepTimeout})
	if err != nil {
		return scenarioRun{err: err}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var run scenarioRun
	bounded := func(ctx context.Context, e scenario.Expect) ([]*model.Measurement, error) {
		select {
		case inFlight <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		defer func() { <-inFlight }()
		return check(ctx, e)
	}
	verify.All(ctx, sc.Expect, bounded, len(sc.Expect), func(r verify.Result) { run.results = append(run.results, r) })
	run.log, run.duration = log.String(), time.Since(start)
	return run
}

// TestShippedScenarios runs every shipped scenario's expect list through
// probe → control → verdict on the emulated network, all scenarios at once,
// and judges the records as `lab verify` does; `lab verify` as root proves
// that the kernel path agrees.
func TestShippedScenarios(t *testing.T) {
	names, err := fs.Glob(scenarios.FS, "*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no shipped scenarios: %v", err)
	}
	if only := os.Getenv("FIREWATCH_SCENARIO"); only != "" {
		names = slices.DeleteFunc(names, func(n string) bool { return strings.TrimSuffix(n, ".yaml") != only })
	}
	files := make([][]byte, len(names))
	slow := make([]bool, len(names)) // blackholes, throttles, QUIC blocks, keyword and DNS-over-TCP drops and hosts the control cannot reach wait out timeouts: start them first
	for i, name := range names {
		b, err := fs.ReadFile(scenarios.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		files[i] = b
		slow[i] = strings.Contains(string(b), "- drop:") || strings.Contains(string(b), "- throttle:") || strings.Contains(string(b), "- quic-block:") || strings.Contains(string(b), "- keyword-drop:") || strings.Contains(string(b), "- dns-tcp:") || strings.Contains(string(b), "control: unreachable")
	}
	runs := make([]scenarioRun, len(names))
	bare := make([]scenarioRun, len(names))
	inFlight := make(chan struct{}, checksAtOnce)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8) // scenarios at once: rates stay far from a loaded machine's noise
	order := make([]int, len(names))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case slow[a] && !slow[b]:
			return -1
		case slow[b] && !slow[a]:
			return 1
		}
		return 0
	})
	for _, i := range order {
		name := names[i]
		wg.Add(2)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			runs[i] = runScenario(name, false, inFlight)
		}()
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			bare[i] = runScenario(name, true, inFlight)
		}()
	}
	wg.Wait()
	for i, name := range names {
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			run := runs[i]
			if run.err != nil {
				t.Fatal(run.err)
			}
			if len(run.results) == 0 {
				t.Skip("no expect list (its expect_dns scan is checked by lab verify as root)")
			}
			pass, fail := 0, 0
			for _, r := range run.results {
				if r.Pass {
					pass++
					continue
				}
				fail++
				var b strings.Builder
				verify.WriteResult(&b, r, false)
				t.Errorf("%s", strings.TrimSpace(b.String()))
			}
			t.Logf("%s in %.1fs", verify.ClosingLine(pass, fail), run.duration.Seconds())
			if fail > 0 {
				t.Logf("censor log:\n%s", run.log)
			}
			// Without the censor some expected block disappears: the
			// emulation's censor is what blocks.
			if bare[i].err != nil {
				t.Fatal(bare[i].err)
			}
			lifted := 0
			for _, r := range bare[i].results {
				if !r.Pass {
					lifted++
				}
			}
			if lifted == 0 && len(bare[i].results) > 0 { // a scenario of host conditions expects no block
				t.Errorf("without the censor's rules every expected block remains: the emulation does not apply them")
			}
		})
	}
}

// lockedBuffer is a log written by many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
