// Package verify compares the records the probe produced for a scenario's
// expect list with the expectations: the judge behind `firewatch lab verify`
// (the kernel lab) and the in-process scenario tests alike.
package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/target"
)

// Outcome is a status and a set of methods, as expected or as found.
type Outcome struct {
	Status  string   `json:"status"`
	Methods []string `json:"methods"`
}

// String renders an outcome: "blocked [tls.mitm]", or the bare status.
func (o Outcome) String() string {
	if len(o.Methods) == 0 {
		return o.Status
	}
	return o.Status + " [" + strings.Join(o.Methods, ",") + "]"
}

// Result is the comparison of one expect entry with what the probe found;
// its JSON form is the line `lab verify --json` prints per target.
type Result struct {
	Target   string   `json:"target"`
	Expected Outcome  `json:"expected"`
	Got      Outcome  `json:"got"`
	Pass     bool     `json:"pass"`
	Evidence []string `json:"evidence"`
}

// CheckFunc measures one expect entry and returns the probe's records (one
// per measured target: two for a bare domain).
type CheckFunc func(ctx context.Context, e scenario.Expect) ([]*model.Measurement, error)

// All checks every expect entry, at most parallel at a time, and calls emit
// with each result in the order of the expect list. An entry starts only
// when it is fewer than Window(parallel) entries ahead of the next one to
// emit, so the goroutines and results held stay bounded whatever the
// length of the list.
func All(ctx context.Context, expects []scenario.Expect, check CheckFunc, parallel int, emit func(Result)) {
	parallel = max(parallel, 1)
	window := Window(parallel)
	ring := make([]chan Result, window)
	for i := range ring {
		ring[i] = make(chan Result, 1)
	}
	ahead := make(chan struct{}, window) // entries started and not yet emitted
	workers := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	go func() {
		for i, e := range expects {
			ahead <- struct{}{}
			select {
			case workers <- struct{}{}:
			case <-ctx.Done():
				ring[i%window] <- Judge(e, nil, ctx.Err())
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-workers }()
				ms, err := check(ctx, e)
				ring[i%window] <- Judge(e, ms, err)
			}()
		}
	}()
	for i := range expects {
		emit(<-ring[i%window])
		<-ahead
	}
	wg.Wait()
}

// Window is how far ahead of the next result to print All starts entries
// with parallel checks at a time: far enough that a slow entry (a
// blackhole's timeouts) does not idle the others.
func Window(parallel int) int { return max(8*parallel, 64) }

// Judge compares an expectation with the records the probe printed for it.
// Every record must have the expected status and exactly the expected set of
// methods. When they do not all match, Got is the first record that does not.
func Judge(e scenario.Expect, ms []*model.Measurement, runErr error) Result {
	r := Result{
		Target:   e.Target,
		Expected: Outcome{Status: e.Status, Methods: MethodSet(e.Methods)},
		Evidence: []string{},
	}
	if runErr != nil || len(ms) == 0 {
		why := "no record"
		if runErr != nil {
			why = runErr.Error()
		}
		r.Got = Outcome{Status: model.StatusError, Methods: []string{}}
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
		if m.Status != e.Status || !SameMethods(m.Methods, e.Methods) {
			if r.Pass {
				pick = m
			}
			r.Pass = false
		}
	}
	r.Got = Outcome{Status: pick.Status, Methods: MethodSet(pick.Methods)}
	prefix := len(ms) > 1
	for _, m := range ms {
		r.Evidence = append(r.Evidence, EvidenceLines(m, prefix)...)
	}
	if len(ms) != want {
		r.Evidence = append(r.Evidence, fmt.Sprintf("probe printed %d records, want %d", len(ms), want))
	}
	return r
}

// EvidenceLines flattens a record's verdict into readable lines, each
// prefixed with the record's target when prefix is set.
func EvidenceLines(m *model.Measurement, prefix bool) []string {
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

// MethodSet returns the methods sorted, without duplicates, never nil.
func MethodSet(ms []string) []string {
	out := slices.Clone(ms)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// SameMethods reports whether a and b hold the same set of methods.
func SameMethods(a, b []string) bool { return slices.Equal(MethodSet(a), MethodSet(b)) }

// ClosingLine is the last line of `lab verify`: "N passed, N failed".
func ClosingLine(pass, fail int) string { return fmt.Sprintf("%d passed, %d failed", pass, fail) }

// WriteResult prints one result as a text line or a JSON object.
func WriteResult(w io.Writer, r Result, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(r)
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	mark := "PASS"
	if !r.Pass {
		mark = "FAIL"
	}
	line := fmt.Sprintf("%s  %s  expected %s  got %s", mark, r.Target, r.Expected, r.Got)
	if len(r.Evidence) > 0 {
		line += "  evidence: " + strings.Join(r.Evidence, "; ")
	}
	fmt.Fprintln(w, strings.ReplaceAll(line, "\n", " "))
}

// ReadRecords reads a stream of JSON measurement records (JSON Lines, as
// `firewatch check --json` and `run --out` write them). A record that does
// not decode is an error naming its number; the records before it are
// returned.
func ReadRecords(r io.Reader) ([]*model.Measurement, error) {
	dec := json.NewDecoder(r)
	var out []*model.Measurement
	for {
		var m model.Measurement
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("record %d: %w", len(out)+1, err)
		}
		out = append(out, &m)
	}
}
