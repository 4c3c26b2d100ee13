// Package demo runs `firewatch demo`, the newcomer's first run: it brings
// up the lab with the seed scenario, starts a collector in the process
// (SQLite in a temporary directory), measures the scenario's targets from
// inside the lab for a few rounds, uploads the records the way a probe does
// (spool, batches, acknowledgement), prints a findings table and the
// dashboard's URL, serves until interrupted, and removes everything.
//
// The pieces are small and testable without the lab: Targets (what to
// measure in a scenario), Findings and WriteFindings (the table),
// RunRounds (the round loop around an injected measuring function), and
// StartCollector; Run ties them together around a Lab.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/firewatch/firewatch/internal/lab"
	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store"
	"github.com/firewatch/firewatch/scenarios"
)

// DefaultScenario is the scenario file the demo runs when none is given,
// relative to the working directory; when it is not there, the copy
// embedded in the binary is used.
const DefaultScenario = "scenarios/" + scenarios.Seed

// Defaults of Options.
const (
	DefaultListen   = "127.0.0.1:8080"
	DefaultRounds   = 3
	DefaultInterval = 5 * time.Second
)

// steps is the number of numbered progress steps.
const steps = 5

// Options configure Run. Zero values mean the defaults.
type Options struct {
	Scenario        string        // scenario file; "" means DefaultScenario or the embedded copy
	Listen          string        // the collector's address; DefaultListen when ""
	Rounds          int           // rounds of measurements; DefaultRounds when 0
	Interval        time.Duration // pause between rounds; DefaultInterval when 0, none when negative
	ExitAfterRounds bool          // stop after the findings instead of serving until ctx ends

	// Lab measures the targets; nil means a NetnsLab built from the fields below.
	Lab      Lab
	Name     string // the lab's name; "" means lab.DefaultName
	StateDir string // the lab's state directory; "" means lab.StateDir(Name)
	Exe      string // the firewatch binary run in the lab; "" means this executable
	Control  bool   // start the control in the outside vantage
	Seed     int64  // the censor's seed

	// Out receives the progress lines and the findings table; nil discards.
	Out io.Writer
	// Err receives the collector's warnings; nil discards.
	Err io.Writer
	// Ready, when set, is called with the dashboard's URL once the findings
	// are printed, while the collector still serves.
	Ready func(url string)
}

// Result is what a demo did.
type Result struct {
	URL      string    // the dashboard's URL (no longer served once Run returns)
	Targets  []string  // what was measured each round
	Records  int       // records measured over all rounds
	Stored   int       // measurements the collector held at the end
	Blocked  int       // targets the collector confirmed blocked at the end
	Findings []Finding // the table
}

// Run runs the demo. It returns ctx.Err() when interrupted before the
// findings; once serving, an interruption is the normal end and Run returns
// nil. Everything it created is removed on every path.
func Run(ctx context.Context, o Options) (res *Result, err error) {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	say := func(step int, format string, args ...any) {
		fmt.Fprintf(out, "[%d/%d] %s\n", step, steps, fmt.Sprintf(format, args...))
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.Rounds == 0 {
		o.Rounds = DefaultRounds
	}
	if o.Rounds < 0 {
		return nil, fmt.Errorf("--rounds %d: must be at least 1", o.Rounds)
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Lab == nil {
		if err := lab.CheckPrivileges(); err != nil {
			return nil, fmt.Errorf("demo: %w (`sudo ./firewatch demo`)", err)
		}
	}

	work, err := os.MkdirTemp("", "firewatch-demo-")
	if err != nil {
		return nil, fmt.Errorf("demo: temporary directory: %w", err)
	}
	// Clean up on every path, in reverse order of creation, and say so.
	var undo []func() string
	serving := false // an interruption is then the normal end
	defer func() {
		if len(undo) == 0 { // nothing was brought up
			os.RemoveAll(work)
			return
		}
		if ctx.Err() != nil && !serving {
			fmt.Fprintln(out)
			say(steps, "interrupted: stopping")
		}
		var done []string
		for i := len(undo) - 1; i >= 0; i-- {
			done = append(done, undo[i]())
		}
		if rerr := os.RemoveAll(work); rerr != nil {
			done = append(done, fmt.Sprintf("could not remove %s: %v", work, rerr))
		} else {
			done = append(done, "temporary files removed")
		}
		say(steps, "cleaned up: %s", strings.Join(done, ", "))
	}()

	path, sc, from, err := loadScenario(o.Scenario, work)
	if err != nil {
		return nil, err
	}
	targets, err := Targets(sc)
	if err != nil {
		return nil, err
	}
	res = &Result{Targets: targets}
	l := o.Lab
	if l == nil {
		l = &NetnsLab{Name: o.Name, StateDir: o.StateDir, Exe: o.Exe, Control: o.Control, Seed: o.Seed,
			WorkDir: work, Log: &prefixWriter{w: out, prefix: "      "}, Concurrency: 16}
	}

	// 1. The lab.
	say(1, "lab: bringing up %s from %s (%d hosts, %d censor rules)", sc.Name, from, len(sc.Hosts), len(sc.Censor))
	start := time.Now()
	desc, err := l.Up(ctx, path)
	if err != nil {
		return res, fmt.Errorf("lab: %w", err)
	}
	undo = append(undo, func() string {
		dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		switch err := l.Down(dctx); {
		case errors.Is(err, ErrLabGone):
			return err.Error()
		case err != nil:
			return fmt.Sprintf("lab down failed: %v (run `firewatch lab down`)", err)
		}
		return "lab down"
	})
	say(1, "lab up in %.1fs: %s", time.Since(start).Seconds(), desc)

	// 2. The collector.
	var errOut io.Writer = io.Discard
	if o.Err != nil {
		errOut = o.Err
	}
	log := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := StartCollector(ctx, work, o.Listen, log)
	if err != nil {
		return res, err
	}
	undo = append(undo, func() string {
		if err := c.Close(); err != nil {
			return fmt.Sprintf("collector stopped (%v)", err)
		}
		return "collector stopped"
	})
	res.URL = c.URL
	if c.Busy != "" {
		say(2, "collector: %s is busy, serving on %s instead", c.Busy, c.URL)
	}
	say(2, "collector: %s (SQLite in %s; probe token %q created)", c.URL, c.DB, TokenName)

	// 3. The rounds.
	measure := func(ctx context.Context, round int) ([]*model.Measurement, error) {
		say(3, "round %d/%d: measuring %d targets from inside the lab", round, o.Rounds, len(targets))
		return l.Measure(ctx, round, targets)
	}
	uploaded := func(ctx context.Context, round int, ms []*model.Measurement, took time.Duration) error {
		up, err := c.Upload(ctx, ms)
		if err != nil {
			return fmt.Errorf("upload: %w", err)
		}
		say(3, "round %d/%d: %d records in %.0fs (%s); uploaded: %d new, the collector holds %d",
			round, o.Rounds, len(ms), took.Seconds(), statusCounts(ms), up.Inserted, up.Stored)
		for _, r := range up.Rejected {
			say(3, "the collector refused a record: %s", r)
		}
		return nil
	}
	interval := max(o.Interval, 0)
	all, err := RunRounds(ctx, o.Rounds, interval, measure, uploaded)
	res.Records = len(all)
	if err != nil {
		return res, err
	}

	// 4. The findings.
	res.Findings = Findings(all, targets)
	if ov, err := c.Store.Overview(ctx, store.Filter{}); err == nil {
		res.Stored, res.Blocked = ov.Measurements, ov.BlockedTargets
	}
	say(4, "findings (the latest of %d round(s) for each target):", o.Rounds)
	if err := WriteFindings(out, res.Findings); err != nil {
		return res, err
	}
	say(4, "dashboard: %s (%d measurements; %d targets confirmed blocked)", c.URL, res.Stored, res.Blocked)
	if o.Ready != nil {
		o.Ready(c.URL)
	}

	// 5. Serve until interrupted.
	if o.ExitAfterRounds {
		say(5, "--exit-after-rounds: stopping")
		return res, nil
	}
	say(5, "serving the dashboard on %s until Ctrl-C", c.URL)
	serving = true
	select {
	case <-ctx.Done():
		fmt.Fprintln(out)
		say(5, "interrupted: stopping")
	case err := <-c.Served():
		return res, fmt.Errorf("collector stopped serving: %w", err)
	}
	return res, nil
}

// loadScenario reads the scenario at path; with path "", DefaultScenario
// when it exists, else the embedded copy written to work (the lab's daemons
// read the scenario from a file). It returns the file used, the scenario and
// a description of where it came from.
func loadScenario(path, work string) (string, *scenario.Scenario, string, error) {
	from := path
	if path == "" {
		if _, err := os.Stat(DefaultScenario); err == nil {
			path, from = DefaultScenario, DefaultScenario
		} else {
			data, err := scenarios.FS.ReadFile(scenarios.Seed)
			if err != nil {
				return "", nil, "", fmt.Errorf("demo: embedded scenario: %w", err)
			}
			path = filepath.Join(work, scenarios.Seed)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				return "", nil, "", fmt.Errorf("demo: %w", err)
			}
			from = "the copy built into firewatch"
		}
	}
	sc, err := scenario.Load(path)
	if err != nil {
		return "", nil, "", err
	}
	return path, sc, from, nil
}

// statusCounts says how many records have each status: "9 blocked, 20 ok".
func statusCounts(ms []*model.Measurement) string {
	var fs []Finding
	for _, m := range ms {
		fs = append(fs, Finding{Status: m.Status})
	}
	s := Summary(fs)
	if _, counts, ok := strings.Cut(s, ": "); ok {
		s, _, _ = strings.Cut(counts, " (")
		return s
	}
	return "none"
}

// prefixWriter writes each line it is given with a prefix.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	mid    bool // in the middle of a line
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var buf bytes.Buffer
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if !p.mid {
			buf.WriteString(p.prefix)
		}
		buf.Write(line)
		p.mid = line[len(line)-1] != '\n'
	}
	if _, err := p.w.Write(buf.Bytes()); err != nil {
		return 0, err
	}
	return len(b), nil
}
