package demo

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/firewatch/firewatch/internal/model"
)

// Finding is one row of the findings table: the latest verdict on one target.
type Finding struct {
	Target     string
	Status     string
	Methods    []string
	Confidence string // "3/3" when the target was retested, "-" otherwise; " (weak)" without a control
	Evidence   string // the first evidence line, else the verdict's reason, else the first failed step
	Records    int    // records of this target over all rounds
}

// statusRank orders the table: interference first, healthy last.
var statusRank = map[string]int{
	model.StatusBlocked:  0,
	model.StatusDown:     1,
	model.StatusError:    2,
	model.StatusMeasured: 3,
	model.StatusOK:       4,
}

// maxEvidence bounds the evidence column, in characters.
const maxEvidence = 120

// Findings returns one finding per target from the records of any number of
// rounds (the latest record of each target wins), blocked targets first,
// then down, error, without verdict and ok; within a status in the order of
// order (the measured list), then by name.
func Findings(ms []*model.Measurement, order []string) []Finding {
	pos := map[string]int{}
	for i, t := range order {
		if _, dup := pos[t]; !dup {
			pos[t] = i
		}
	}
	latest := map[string]*model.Measurement{}
	count := map[string]int{}
	for _, m := range ms {
		if m == nil {
			continue
		}
		count[m.Target]++
		if cur, ok := latest[m.Target]; !ok || !m.StartedAt.Before(cur.StartedAt) {
			latest[m.Target] = m
		}
	}
	fs := make([]Finding, 0, len(latest))
	for t, m := range latest {
		fs = append(fs, Finding{
			Target:     t,
			Status:     m.Status,
			Methods:    m.Methods,
			Confidence: confidence(m),
			Evidence:   evidence(m),
			Records:    count[t],
		})
	}
	rank := func(s string) int {
		if r, ok := statusRank[s]; ok {
			return r
		}
		return len(statusRank)
	}
	place := func(t string) int {
		if p, ok := pos[t]; ok {
			return p
		}
		return len(order)
	}
	sort.Slice(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if ra, rb := rank(a.Status), rank(b.Status); ra != rb {
			return ra < rb
		}
		if pa, pb := place(a.Target), place(b.Target); pa != pb {
			return pa < pb
		}
		return a.Target < b.Target
	})
	return fs
}

func confidence(m *model.Measurement) string {
	s := "-"
	if m.Verdict == nil {
		return s
	}
	if c := m.Verdict.Confidence; c != nil && c.Tries > 0 {
		s = fmt.Sprintf("%d/%d", c.Agreed, c.Tries)
	}
	if m.Verdict.Weak {
		s += " (weak)"
	}
	return s
}

// evidence picks the line that best explains m's status.
func evidence(m *model.Measurement) string {
	if v := m.Verdict; v != nil {
		for _, e := range v.Evidence {
			for _, l := range e.Lines {
				if strings.TrimSpace(l) != "" {
					return clean(l)
				}
			}
		}
		if v.Reason != "" {
			return clean(v.Reason)
		}
	}
	if m.Status == model.StatusOK {
		return "-"
	}
	for _, s := range m.Steps {
		if s.Failure != nil {
			where := s.Address
			if where == "" {
				where = s.Hostname
			}
			return clean(strings.TrimSpace(fmt.Sprintf("%s %s: %s", s.Operation, where, *s.Failure)))
		}
	}
	return "-"
}

// clean makes text that came from the network safe and short for a
// terminal: control characters (escape sequences included) become spaces,
// runs of spaces collapse, and the text is cut to maxEvidence characters.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > maxEvidence {
		r := []rune(s)
		s = string(r[:maxEvidence-1]) + "…"
	}
	if s == "" {
		return "-"
	}
	return s
}

// WriteFindings writes the findings as an aligned table followed by a
// summary line ("11 targets: 7 blocked, 3 ok, 1 down").
func WriteFindings(w io.Writer, fs []Finding) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tSTATUS\tMETHODS\tCONFIDENCE\tEVIDENCE")
	for _, f := range fs {
		methods := strings.Join(f.Methods, ",")
		if methods == "" {
			methods = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", clean(f.Target), clean(f.Status), clean(methods), f.Confidence, f.Evidence)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, Summary(fs))
	return err
}

// Summary counts findings by status: "11 targets: 7 blocked, 3 ok, 1 down".
func Summary(fs []Finding) string {
	n := map[string]int{}
	for _, f := range fs {
		n[f.Status]++
	}
	var parts []string
	for _, s := range []string{model.StatusBlocked, model.StatusOK, model.StatusDown, model.StatusError, model.StatusMeasured} {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
			delete(n, s)
		}
	}
	var other []string
	for s := range n {
		other = append(other, s)
	}
	sort.Strings(other)
	for _, s := range other {
		parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
	}
	word := "targets"
	if len(fs) == 1 {
		word = "target"
	}
	line := fmt.Sprintf("%d %s", len(fs), word)
	if len(parts) > 0 {
		line += ": " + strings.Join(parts, ", ")
	}
	if countStatus(fs, model.StatusMeasured) > 0 {
		line += " (measured: recorded without a verdict)"
	}
	return line
}

func countStatus(fs []Finding, status string) int {
	n := 0
	for _, f := range fs {
		if f.Status == status {
			n++
		}
	}
	return n
}
