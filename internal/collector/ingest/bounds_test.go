package ingest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/model"
)

// TestIngestBounds: a record out of any bound of the record format is
// refused with 400 naming the record's id and the field; records at the
// bounds are stored.
func TestIngestBounds(t *testing.T) {
	f := newFixture(t, Options{})
	mut := func(fn func(m *model.Measurement)) *model.Measurement { m := rec("3f2a9c"); fn(m); return m }
	step := func(m *model.Measurement, op string) *model.Step {
		for i := range m.Steps {
			if m.Steps[i].Operation == op {
				return &m.Steps[i]
			}
		}
		t.Fatalf("no %s step", op)
		return nil
	}
	steps := func(n int) []model.Step {
		s := make([]model.Step, n)
		for i := range s {
			s[i] = model.Step{Operation: model.OpConnect, Address: "203.0.113.10:443", StartedAt: t0}
		}
		return s
	}
	for _, tc := range []struct {
		name, field, msg string
		m                *model.Measurement
	}{
		{"steps", "steps", "record 3f2a9c: steps: 2000, at most 512 (record 1 of the batch)",
			mut(func(m *model.Measurement) { m.Steps = steps(2000) })},
		{"body_head", "steps[4].http.body_head", "steps[4].http.body_head: 4097 characters, at most 4096",
			mut(func(m *model.Measurement) { step(m, model.OpHTTPRoundTrip).HTTP.BodyHead = strings.Repeat("é", 4097) })},
		{"huge body_head", "steps[4].http.body_head", "steps[4].http.body_head: 20971520 characters, at most 4096",
			mut(func(m *model.Measurement) { step(m, model.OpHTTPRoundTrip).HTTP.BodyHead = strings.Repeat("x", 20<<20) })},
		{"copies of one method", "methods", "methods: 5000, at most",
			mut(func(m *model.Measurement) {
				m.Methods = make([]string, 5000)
				for i := range m.Methods {
					m.Methods[i] = model.MethodTCPReset
				}
			})},
		{"a method twice", "methods[1]", `methods[1]: "tcp.reset" is listed twice`,
			mut(func(m *model.Measurement) { m.Methods = []string{model.MethodTCPReset, model.MethodTCPReset} })},
		{"dns answers", "steps[0].dns.responses[0].answers", "answers: 5000, at most 4096",
			mut(func(m *model.Measurement) {
				r := &step(m, model.OpResolve).DNS.Responses[0]
				r.Answers = make([]model.DNSAnswer, 5000)
				for i := range r.Answers {
					r.Answers[i] = model.DNSAnswer{Name: "www.example.org", Type: "A", Value: "203.0.113.10"}
				}
			})},
		{"dns responses", "steps[1].dns.responses", "33, at most 32",
			mut(func(m *model.Measurement) {
				d := step(m, model.OpDNSRoundTrip).DNS
				for len(d.Responses) < 33 {
					d.Responses = append(d.Responses, d.Responses[0])
				}
			})},
		{"chain", "steps[3].tls.chain", "2049, at most 2048",
			mut(func(m *model.Measurement) {
				tl := step(m, model.OpTLSHandshake).TLS
				for len(tl.Chain) <= model.MaxChain {
					tl.Chain = append(tl.Chain, tl.Chain[0])
				}
			})},
		{"a SAN", "steps[3].tls.chain[0].sans[1]", "1048577 bytes, at most 1048576",
			mut(func(m *model.Measurement) {
				c := &step(m, model.OpTLSHandshake).TLS.Chain[0]
				c.SANs = append(c.SANs[:1:1], strings.Repeat("s", model.MaxCertNameLen+1))
			})},
		{"bogons", "steps[0].dns.bogons", "131073, at most 131072",
			mut(func(m *model.Measurement) {
				d := step(m, model.OpResolve).DNS
				for len(d.Bogons) <= model.MaxBogons {
					d.Bogons = append(d.Bogons, "10.0.0.1")
				}
			})},
		{"title", "steps[4].http.title", "300 bytes, at most 256",
			mut(func(m *model.Measurement) { step(m, model.OpHTTPRoundTrip).HTTP.Title = strings.Repeat("t", 300) })},
		{"header", "steps[4].http.headers.Server", "600 bytes, at most 512",
			mut(func(m *model.Measurement) {
				step(m, model.OpHTTPRoundTrip).HTTP.Headers["Server"] = strings.Repeat("s", 600)
			})},
		{"failure text", "steps[4].failure", "at most 1024",
			mut(func(m *model.Measurement) {
				s := "unknown_failure: " + strings.Repeat("f", 2000)
				step(m, model.OpHTTPRoundTrip).Failure = &s
			})},
		{"evidence line", "verdict.evidence[0].lines[1]", "9000 bytes, at most 8192",
			mut(func(m *model.Measurement) { m.Verdict.Evidence[0].Lines[1] = strings.Repeat("l", 9000) })},
		{"control steps", "control.steps", "control.steps: 600, at most 512",
			mut(func(m *model.Measurement) {
				c := rec("3f2a9c-control")
				c.Status, c.Methods, c.Verdict, c.Steps = model.StatusMeasured, []string{}, nil, steps(600)
				m.Control = c
			})},
		{"whole record", "", "bytes of JSON, at most 8388608",
			mut(func(m *model.Measurement) {
				// Every field within its bound, the whole too large: 500 steps of 4,096-character bodies.
				m.Steps = steps(500)
				for i := range m.Steps {
					m.Steps[i] = model.Step{Operation: model.OpHTTPRoundTrip, StartedAt: t0,
						HTTP: &model.HTTPData{URL: m.Target, Method: "GET", BodyHead: strings.Repeat("\x01", 4096)}}
				}
			})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if large := tc.name == "huge body_head" || tc.name == "whole record"; large && raceEnabled {
				t.Skip("decoding MiB of JSON takes tens of seconds under the race detector")
			}
			code, out := f.post(t, jsonl(rec("good"), tc.m))
			msg, _ := out["error"].(string)
			if code != 400 || out["id"] != "3f2a9c" || out["record"] != 1.0 || (out["field"] != tc.field && !(tc.field == "" && out["field"] == nil)) {
				t.Errorf("got %d %.300v; want 400 naming record 1 (3f2a9c) and field %q", code, out, tc.field)
			}
			if !strings.Contains(msg, tc.msg) || !strings.HasPrefix(msg, "record 3f2a9c: ") {
				t.Errorf("error %.300q, want it to name the record and contain %q", msg, tc.msg)
			}
		})
	}
	if n := count(t, f.st); n != 0 {
		t.Errorf("stored %d records of refused batches, want 0", n)
	}

	// At the bounds: stored.
	at := rec("at-bounds")
	at.Steps = append(at.Steps, steps(model.MaxSteps-len(at.Steps))...)
	at.Steps[4].HTTP.BodyHead = strings.Repeat("é", model.MaxBodyHead) // 4,096 characters, 8,192 bytes
	at.Steps[4].HTTP.Title = strings.Repeat("t", model.MaxTitle)
	if code, out := f.post(t, jsonl(at)); code != 200 {
		t.Errorf("a record at the bounds: %d %.300v, want 200", code, out)
	}
}

// TestProbeRecordsWithinBounds: the probe's golden records and the
// verdict's golden inputs pass validation, bounds included: what the probe,
// the classifier and the verdict produce is in the vocabularies the
// validator reads (failure strings, operations, statuses, methods, vantages).
func TestProbeRecordsWithinBounds(t *testing.T) {
	files, _ := filepath.Glob("../../probe/testdata/golden/*.json")
	more, _ := filepath.Glob("../../verdict/testdata/*/*.json")
	files = append(files, more...)
	if len(files) < 3 {
		t.Fatalf("found %d golden records", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m model.Measurement
		if err := json.Unmarshal(b, &m); err != nil || m.Schema == "" {
			continue // not a whole record (a verdict golden file)
		}
		if err := checkBounds(&m, ""); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		m.ID = "golden" // golden files name records by path; ids are no vocabulary
		if m.Control != nil {
			m.Control.ID = "golden-control"
		}
		if err := Validate(&m); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
