package ingest

import (
	"testing"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
)

// TestValidateProbeFailures: every failure string the probe records must be
// accepted, or the uploader moves the record to rejected/ and it is lost.
func TestValidateProbeFailures(t *testing.T) {
	for _, f := range []string{
		failure.DNSBogon, failure.GenericTimeout, failure.SSLUnknownAuthority,
		failure.MailProtocolError, failure.HTTPTooManyRedirects, failure.HTTPBadResponse,
		failure.Unknown + ": http status 404",
	} {
		t.Run(f, func(t *testing.T) {
			m := rec("f1")
			m.Steps[len(m.Steps)-1].Failure = &f
			if err := Validate(m); err != nil {
				t.Errorf("Validate with failure %q: got %v, want nil", f, err)
			}
		})
	}
}

// TestValidateAddrsNotTried: the probe's count of addresses left out by
// --max-addrs is accepted; a negative count is not.
func TestValidateAddrsNotTried(t *testing.T) {
	for _, c := range []struct {
		n  int
		ok bool
	}{{0, true}, {3492, true}, {-1, false}} {
		m := rec("a1")
		m.AddrsNotTried = c.n
		if err := Validate(m); (err == nil) != c.ok {
			t.Errorf("addresses_not_tried %d: got %v, want ok %v", c.n, err, c.ok)
		}
	}
}

// TestValidateTraceAndKeywordSteps: the records of firewatch trace and
// firewatch keywords are accepted.
func TestValidateTraceAndKeywordSteps(t *testing.T) {
	m := rec("t1")
	reset := failure.ConnectionReset
	m.Steps = append(m.Steps,
		model.Step{Operation: model.OpTraceHop, Address: "203.0.113.30:80", Trace: &model.TraceHopData{Method: model.MethodHTTPReset, TTL: 2, Interference: true, Censor: true, Placement: "in-path", Answers: []string{"rst"}}},
		model.Step{Operation: model.OpKeywordTest, Address: "203.0.113.30:80", Failure: &reset, Keyword: &model.KeywordData{Field: "path", Value: "/falun", Word: "falun", Status: "blocked", Blocked: true}},
	)
	if err := Validate(m); err != nil {
		t.Errorf("Validate: %v", err)
	}
}
