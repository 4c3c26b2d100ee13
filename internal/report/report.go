// Package report prints a measurement for a person: one line per step with
// what it got and what failed, then the status, methods and evidence.
package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/firewatch/firewatch/internal/model"
)

// Text writes the short human-readable report of m to w.
func Text(w io.Writer, m *model.Measurement) {
	fmt.Fprintf(w, "%s\n", m.Target)
	for _, s := range m.Steps {
		outcome := "ok"
		if s.Failure != nil {
			outcome = "FAILED " + *s.Failure
		}
		where := s.Address
		if where == "" {
			where = s.Hostname
		}
		fmt.Fprintf(w, "  %-15s %-24s %-8s %s%s\n", s.Operation, where, fmt.Sprintf("%.0fms", s.DurationMS), outcome, detail(s))
	}
	writeVerdict(w, m)
	if m.Control != nil {
		fmt.Fprintf(w, "  control: %d steps\n", len(m.Control.Steps))
	}
}

func writeVerdict(w io.Writer, m *model.Measurement) {
	switch m.Status {
	case model.StatusMeasured, "":
		return
	case model.StatusOK:
		fmt.Fprintln(w, "  status: ok")
		return
	}
	line := "  status: " + m.Status
	if len(m.Methods) > 0 {
		line += " (" + strings.Join(m.Methods, ", ") + ")"
	}
	if v := m.Verdict; v != nil {
		if v.Confidence != nil {
			line += fmt.Sprintf(" [%d/%d tries agree]", v.Confidence.Agreed, v.Confidence.Tries)
		}
		if v.Weak {
			line += " [weak: no control]"
		}
	}
	fmt.Fprintln(w, line)
	if v := m.Verdict; v != nil {
		if v.Reason != "" {
			fmt.Fprintf(w, "    reason: %s\n", v.Reason)
		}
		for _, e := range v.Evidence {
			fmt.Fprintf(w, "    %s:\n", e.Method)
			for _, l := range e.Lines {
				fmt.Fprintf(w, "      %s\n", l)
			}
		}
	}
}

// detail summarizes a step's data in a few words.
func detail(s model.Step) string {
	var parts []string
	switch {
	case s.DNS != nil:
		d := s.DNS
		parts = append(parts, d.QueryType+" via "+d.Resolver)
		for i, r := range d.Responses {
			var vals []string
			for _, a := range r.Answers {
				vals = append(vals, a.Value)
			}
			txt := r.Rcode
			if len(vals) > 0 {
				txt = strings.Join(vals, " ")
			}
			if len(d.Responses) > 1 {
				txt = fmt.Sprintf("#%d@%.0fms %s", i+1, r.ArrivalMS, txt)
			}
			parts = append(parts, txt)
		}
		if len(d.Bogons) > 0 {
			parts = append(parts, "bogons: "+strings.Join(d.Bogons, " "))
		}
	case s.TLS != nil:
		t := s.TLS
		parts = append(parts, strings.TrimSpace(t.Version+" sni="+t.ServerName))
		if len(t.Chain) > 0 {
			parts = append(parts, "leaf="+t.Chain[0].Subject, "issuer="+t.Chain[0].Issuer)
		}
		if t.Verified {
			parts = append(parts, "verified")
		} else if t.VerifyError != nil {
			parts = append(parts, "NOT verified: "+*t.VerifyError)
		}
	case s.HTTP != nil:
		h := s.HTTP
		parts = append(parts, fmt.Sprintf("%s %s", h.Method, h.URL))
		if h.Status != 0 {
			parts = append(parts, fmt.Sprintf("%d", h.Status))
		}
		if h.Location != "" {
			parts = append(parts, "-> "+h.Location)
		}
		if h.Status != 0 {
			parts = append(parts, fmt.Sprintf("%d bytes", h.BodyLength))
		}
		if h.Title != "" {
			parts = append(parts, fmt.Sprintf("title %q", h.Title))
		}
	case s.Mail != nil:
		ml := s.Mail
		if ml.Banner != "" {
			parts = append(parts, fmt.Sprintf("banner %q", ml.Banner))
		}
		if s.Operation == model.OpStartTLS {
			parts = append(parts, fmt.Sprintf("reply %q", ml.Reply))
		} else if s.Failure == nil {
			parts = append(parts, fmt.Sprintf("starttls offered: %v", ml.StartTLSOffered))
		}
	case s.Download != nil:
		d := s.Download
		parts = append(parts, fmt.Sprintf("%d bytes sha256=%s", d.Size, d.SHA256))
		if d.Truncated {
			parts = append(parts, "(size cap hit)")
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "  " + strings.Join(parts, "; ")
}
