package ingest

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
)

// FieldError says which field of a record is invalid and why.
type FieldError struct {
	Field string // JSON path, e.g. "steps[2].failure"
	Msg   string
}

func (e *FieldError) Error() string { return fmt.Sprintf("field %q: %s", e.Field, e.Msg) }

// Validate checks a record against the measurement schema: schema version,
// id, target, start time, vantage, status and methods in their vocabularies,
// every bound of the record format (model.Max*: lengths of lists and text),
// steps' operations and failure strings (the failure vocabulary, or
// "unknown_failure: ..."). The control record, if any, is checked the same
// way under "control.". It returns a *FieldError.
func Validate(m *model.Measurement) error {
	if err := validate(m, ""); err != nil {
		return err
	}
	if m.Control != nil {
		if m.Control.Control != nil || m.Control.Verdict != nil {
			return &FieldError{"control", "a control record has no control or verdict of its own"}
		}
		return validate(m.Control, "control.")
	}
	return nil
}

func validate(m *model.Measurement, p string) error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{p + field, fmt.Sprintf(format, args...)}
	}
	if m.Schema != model.SchemaVersion {
		return bad("schema", "is %q, want %q", clip(m.Schema), model.SchemaVersion)
	}
	switch {
	case m.ID == "":
		return bad("id", "missing")
	case len(m.ID) > model.MaxIDLen:
		return bad("id", "longer than %d bytes", model.MaxIDLen)
	case strings.ContainsFunc(m.ID, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune("/?#%\\", r) }) || !utf8.ValidString(m.ID):
		return bad("id", "contains spaces, control characters or one of / ? # %% \\")
	}
	if m.Target == "" {
		return bad("target", "missing")
	}
	if len(m.Target) > model.MaxTargetLen {
		return bad("target", "longer than %d bytes", model.MaxTargetLen)
	}
	if u, err := url.Parse(m.Target); err != nil || u.Scheme == "" || u.Host == "" {
		return bad("target", "%q is not an absolute URL", clip(m.Target))
	}
	if len(m.Category) > model.MaxCategoryLen || strings.ContainsFunc(m.Category, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return bad("category", "longer than %d bytes or contains control characters", model.MaxCategoryLen)
	}
	if m.StartedAt.IsZero() {
		return bad("started_at", "missing")
	}
	if m.StartedAt.Year() < 2000 || m.StartedAt.Year() > 2200 {
		return bad("started_at", "%s is out of range", m.StartedAt.Format("2006-01-02"))
	}
	if vs := model.Vantages(); !slices.Contains(vs, m.Vantage) {
		return bad("vantage", "is %q, want %q or %q", clip(m.Vantage), vs[0], vs[1])
	}
	if statuses := model.Statuses(); !slices.Contains(statuses, m.Status) {
		return bad("status", "%q is not one of %s", clip(m.Status), strings.Join(statuses, ", "))
	}
	if err := checkBounds(m, p); err != nil {
		return err
	}
	for i, meth := range m.Methods {
		if !slices.Contains(model.Methods, meth) {
			return bad(fmt.Sprintf("methods[%d]", i), "%q is not a known method", clip(meth))
		}
		if slices.Contains(m.Methods[:i], meth) {
			return bad(fmt.Sprintf("methods[%d]", i), "%q is listed twice", meth)
		}
	}
	if c := m.Probe.Country; c != "" && (len(c) != 2 || strings.ToUpper(c) != c || strings.ContainsFunc(c, func(r rune) bool { return r < 'A' || r > 'Z' })) {
		return bad("probe.country", "%q is not an ISO 3166-1 alpha-2 code", clip(c))
	}
	if m.Probe.ASN < 0 || m.Probe.ASN > 1<<32-1 {
		return bad("probe.asn", "%d is out of range", m.Probe.ASN)
	}
	if m.AddrsNotTried < 0 {
		return bad("addresses_not_tried", "%d is negative", m.AddrsNotTried)
	}
	for i, s := range m.Steps {
		sp := fmt.Sprintf("steps[%d].", i)
		if !slices.Contains(model.Operations(), s.Operation) {
			return bad(sp+"operation", "%q is not a known operation", clip(s.Operation))
		}
		if err := checkFailure(s.Failure); err != nil {
			return bad(sp+"failure", "%v", err)
		}
		if s.DNS != nil {
			for j, r := range s.DNS.Responses {
				if err := checkFailure(r.Failure); err != nil {
					return bad(fmt.Sprintf("%sdns.responses[%d].failure", sp, j), "%v", err)
				}
			}
		}
		if s.TLS != nil {
			if err := checkFailure(s.TLS.VerifyError); err != nil {
				return bad(sp+"tls.verify_error", "%v", err)
			}
		}
	}
	if m.Verdict != nil {
		for i, e := range m.Verdict.Evidence {
			if !slices.Contains(model.Methods, e.Method) {
				return bad(fmt.Sprintf("verdict.evidence[%d].method", i), "%q is not a known method", clip(e.Method))
			}
		}
		if c := m.Verdict.Confidence; c != nil && (c.Agreed < 0 || c.Tries < c.Agreed) {
			return bad("verdict.confidence", "agreed %d of %d tries", c.Agreed, c.Tries)
		}
	}
	return nil
}

func checkFailure(f *string) error {
	if f == nil {
		return nil
	}
	if failure.Valid(*f) {
		return nil
	}
	return fmt.Errorf("%q is not in the failure vocabulary", clip(*f))
}

// clip shortens untrusted text quoted in an error message.
func clip(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
