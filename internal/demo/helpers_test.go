package demo

import (
	"fmt"
	"time"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
)

// t0 is the start of the fabricated records.
var t0 = time.Date(2015, 3, 17, 8, 0, 0, 0, time.UTC)

// rec fabricates a record that passes the collector's validation.
func rec(id, target, status string, at time.Duration, methods ...string) *model.Measurement {
	if methods == nil {
		methods = []string{}
	}
	return &model.Measurement{
		Schema: model.SchemaVersion, ID: id, Target: target, StartedAt: t0.Add(at),
		Vantage: "probe", Probe: model.ProbeInfo{Country: "CN", ASN: 4134, Software: "firewatch/test"},
		Resolvers: []string{"system"}, Status: status, Methods: methods, Steps: []model.Step{},
	}
}

// withEvidence adds a verdict with one evidence line per method.
func withEvidence(m *model.Measurement, agreed, tries int, lines ...string) *model.Measurement {
	v := &model.Verdict{}
	if tries > 0 {
		v.Confidence = &model.Confidence{Agreed: agreed, Tries: tries}
	}
	for i, meth := range m.Methods {
		l := fmt.Sprintf("evidence of %s", meth)
		if i < len(lines) {
			l = lines[i]
		}
		v.Evidence = append(v.Evidence, model.Evidence{Method: meth, Lines: []string{l, "a second line"}})
	}
	m.Verdict = v
	return m
}

// withFailedStep adds a successful and a failed step.
func withFailedStep(m *model.Measurement, op, addr, fail string) *model.Measurement {
	m.Steps = append(m.Steps,
		model.Step{Operation: model.OpResolve, Hostname: "mail.example.net", StartedAt: t0},
		model.Step{Operation: op, Address: addr, StartedAt: t0, Failure: &fail})
	return m
}

var timeout = failure.GenericTimeout

func secs(n int) time.Duration { return time.Duration(n) * time.Second }
