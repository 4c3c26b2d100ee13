// Package verdict compares a measurement taken inside a network with the
// control's measurement of the same target from outside, and names every
// interference found (model.Methods) with evidence a person can read. It is
// pure analysis: no network, no clock. Without a control it gives a weaker
// verdict from what the inside record alone proves.
package verdict

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/firewatch/firewatch/internal/geo"
	"github.com/firewatch/firewatch/internal/model"
)

// Defaults of Options.
const (
	DefaultThrottleRatio    = 0.10     // inside rate below 10% of the control's
	DefaultMinThrottleBytes = 64 << 10 // a transfer shorter than this says little about rate
)

// Options tune a decision. The zero value is usable.
type Options struct {
	// Geo maps addresses to networks for the DNS decision's last step (ASN
	// match); nil skips that step, and the evidence says so.
	Geo *geo.DB
	// ThrottleRatio is the inside/outside rate ratio below which a transfer
	// is throttled (default 0.10).
	ThrottleRatio float64
	// MinThrottleBytes is the smallest transfer (both sides) whose rate is
	// compared (default 64 KiB).
	MinThrottleBytes int64
	// ControlFailed says that a control was configured but did not answer:
	// the weak verdict is then error, never ok or blocked.
	ControlFailed bool
	// NoControlReason explains why ctl is nil (e.g. "control unreachable:
	// ..."); it is put in the weak verdict's Reason.
	NoControlReason string
}

// Result is a decision: the status, the sorted methods and the reasoning.
type Result struct {
	Status  string
	Methods []string
	Verdict model.Verdict
}

// Apply decides and writes the result into in: Status, Methods, Verdict and
// Control (ctl, which may be nil).
func Apply(in, ctl *model.Measurement, opts Options) Result {
	r := Decide(in, ctl, opts)
	if in != nil {
		in.Status = r.Status
		in.Methods = r.Methods
		v := r.Verdict
		in.Verdict = &v
		in.Control = ctl
	}
	return r
}

// Decide compares in (the inside record) with ctl (the control's record of the
// same target; nil when there is none) and returns the verdict.
func Decide(in, ctl *model.Measurement, opts Options) Result {
	if opts.ThrottleRatio <= 0 {
		opts.ThrottleRatio = DefaultThrottleRatio
	}
	if opts.MinThrottleBytes <= 0 {
		opts.MinThrottleBytes = DefaultMinThrottleBytes
	}
	if in == nil || len(in.Steps) == 0 {
		return Result{Status: model.StatusError, Methods: []string{},
			Verdict: model.Verdict{Reason: "the inside record has no steps: nothing to decide on", Weak: ctl == nil}}
	}
	a := newAnalysis(in, ctl, opts)
	if ctl == nil || len(ctl.Steps) == 0 {
		return bounded(a.weak())
	}
	return bounded(a.full())
}

// bounded keeps the verdict's text within the record format's bounds:
// evidence quotes what the network sent (URLs, titles, names), and a
// hostile network must not make the record one the collector refuses.
func bounded(r Result) Result {
	r.Verdict.Reason = clipText(r.Verdict.Reason, model.MaxEvidenceLine)
	for i := range r.Verdict.Evidence {
		e := &r.Verdict.Evidence[i]
		if len(e.Lines) > model.MaxLines {
			more := len(e.Lines) - model.MaxLines + 1
			e.Lines = append(e.Lines[:model.MaxLines-1:model.MaxLines-1], fmt.Sprintf("… and %d more", more))
		}
		for j, l := range e.Lines {
			e.Lines[j] = clipText(l, model.MaxEvidenceLine)
		}
	}
	return r
}

// clipText cuts s to at most n bytes, on a character boundary, ending it
// with "…" when cut.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// analysis holds the views of both records and the findings so far.
type analysis struct {
	opts     Options
	in, ctl  *view
	host     string // the target's host
	port     int
	scheme   string
	findings map[string][]string // method → evidence lines
	dns      map[string]*hostDNS // per host, the DNS decision
	blocked  map[int]bool        // ports where TCP was found blocked
	cut      map[int]bool        // ports where TLS was found cut
	slow     map[string]bool     // URLs found throttled
	ghost    bool                // the inside got addresses for a name that does not exist outside
}

func newAnalysis(in, ctl *model.Measurement, opts Options) *analysis {
	a := &analysis{opts: opts, in: newView(in), findings: map[string][]string{}, dns: map[string]*hostDNS{}, blocked: map[int]bool{},
		cut: map[int]bool{}, slow: map[string]bool{}}
	if ctl != nil {
		a.ctl = newView(ctl)
	}
	a.scheme, a.host, a.port = targetParts(in.Target)
	return a
}

func (a *analysis) add(method string, lines ...string) {
	for _, l := range lines {
		if !containsStr(a.findings[method], l) {
			a.findings[method] = append(a.findings[method], l)
		}
	}
	if _, ok := a.findings[method]; !ok {
		a.findings[method] = nil
	}
}

func (a *analysis) has(method string) bool { _, ok := a.findings[method]; return ok }

// full is the decision with a control.
func (a *analysis) full() Result {
	a.checkDNS()
	a.checkTCP()
	a.checkTLS()
	a.checkQUIC()
	a.checkMail()
	a.checkTransfers()
	a.checkHops()
	a.checkHTTP()

	inOK, inWhy := a.in.works(a.host, a.port)
	ctlOK, ctlWhy := a.ctl.works(a.host, a.port)
	res := Result{}
	switch {
	case !ctlOK:
		// Only what needs no working control stays a finding.
		for m := range a.findings {
			if m != model.MethodDNSBogon && m != model.MethodDNSInjected && (m != model.MethodDNSInconsistent || !a.ghost) {
				delete(a.findings, m)
			}
		}
		switch {
		case len(a.findings) > 0:
			res.Status = model.StatusBlocked
			res.Verdict.Reason = "it fails outside as well (" + ctlWhy + "), but the inside answers are forged"
		case inOK:
			// Nothing to compare with: ok would claim what only a working
			// control can show (a geo-block of the control's country, a
			// control that cannot reach the site).
			res.Status = model.StatusError
			res.Verdict.Reason = "it works inside, but the control could not reach it (" + ctlWhy + "): nothing to compare with"
		case a.in.halt(a.host, a.port).alike(a.ctl.halt(a.host, a.port)):
			res.Status = model.StatusDown
			res.Verdict.Reason = "it fails outside as well: " + ctlWhy + "; inside: " + inWhy
		default:
			// Failing otherwise outside says nothing of the inside's
			// failure (a reset, while the control cannot reach the
			// site): neither down nor blocked.
			res.Status = model.StatusError
			res.Verdict.Reason = "it fails inside (" + inWhy + "), and outside in another way (" + ctlWhy + "): nothing to compare with"
		}
	case len(a.findings) > 0:
		res.Status = model.StatusBlocked
	case inOK && a.certFault() != "":
		res.Status = model.StatusDown
		res.Verdict.Reason = a.certFault()
	case inOK && a.serverError() != "":
		res.Status = model.StatusDown
		res.Verdict.Reason = a.serverError()
	case inOK:
		res.Status = model.StatusOK
	default:
		res.Status = model.StatusError
		res.Verdict.Reason = "it fails inside (" + inWhy + ") and works outside, but the failure matches no known interference method"
	}
	res.Methods, res.Verdict.Evidence = a.evidence()
	return res
}

// weak is the decision without a control: only what the inside record proves.
func (a *analysis) weak() Result {
	a.checkDNSAlone()
	a.checkAlone()
	inOK, inWhy := a.in.works(a.host, a.port)
	res := Result{Verdict: model.Verdict{Weak: true}}
	why := a.opts.NoControlReason
	if why == "" {
		why = "no control"
	}
	res.Methods, res.Verdict.Evidence = a.evidence()
	switch {
	case a.opts.ControlFailed:
		// The outside's view was asked for and is missing: no verdict.
		res.Status = model.StatusError
		res.Verdict.Reason = why + ": no verdict without the outside's view"
		if len(res.Methods) > 0 {
			res.Verdict.Reason += " (the inside alone suggests " + join(res.Methods) + ")"
		}
		res.Methods, res.Verdict.Evidence = []string{}, nil
	case len(res.Methods) > 0:
		res.Status = model.StatusBlocked
		res.Verdict.Reason = why + ": the verdict rests on the inside vantage alone"
	case inOK:
		res.Status = model.StatusOK
		res.Verdict.Reason = why + ": it works inside; without a control, subtler interference cannot be ruled out"
	default:
		res.Status = model.StatusError
		res.Verdict.Reason = why + ": it fails inside (" + inWhy + "); without a control an outage cannot be told from blocking"
		if a.in.nxdomain(a.host) {
			res.Verdict.Reason = why + ": " + a.host + " does not exist inside (NXDOMAIN); without a control this cannot be told from a name that does not exist"
		}
	}
	return res
}

// evidence returns the sorted methods and their evidence, in the same order.
func (a *analysis) evidence() ([]string, []model.Evidence) {
	methods := make([]string, 0, len(a.findings))
	for m := range a.findings {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	var ev []model.Evidence
	for _, m := range methods {
		lines := a.findings[m]
		if len(lines) == 0 {
			lines = []string{m}
		}
		ev = append(ev, model.Evidence{Method: m, Lines: lines})
	}
	return methods, ev
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func join(ss []string) string {
	if len(ss) == 0 {
		return "nothing"
	}
	return strings.Join(ss, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
