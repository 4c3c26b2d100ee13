package web

import (
	"context"
	"time"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store"
)

// pathView is the path to a target as `firewatch trace` found it: one row
// per TTL, the censor's hop marked.
type pathView struct {
	MeasureID  string
	At         time.Time
	Method     string
	Address    string
	Hops       []pathHop
	CensorHop  int    // 0: no interference seen
	Placement  string // "on-path", "in-path" or ""
	ServerHops int
}

type pathHop struct {
	TTL          int
	Router       string
	Interference bool
	Censor       bool
	Answers      []string
}

// pathScan bounds how many recent measurements the target page reads to
// find the latest trace.
const pathScan = 10

// latestPath returns the path of the newest of rows that holds trace_hop
// steps, or nil.
func (s *server) latestPath(ctx context.Context, rows []store.MeasurementRow) *pathView {
	for i, r := range rows {
		if i >= pathScan {
			break
		}
		m, err := s.st.Measurement(ctx, r.ID)
		if err != nil {
			continue
		}
		if p := buildPath(m); p != nil {
			return p
		}
	}
	return nil
}

// buildPath reads the trace_hop steps of a record; nil when it has none.
// The hop and placement are the trace's own (TraceHopData.Censor).
func buildPath(m *model.Measurement) *pathView {
	var p *pathView
	for _, st := range m.Steps {
		if st.Operation != model.OpTraceHop || st.Trace == nil {
			continue
		}
		if p == nil {
			p = &pathView{MeasureID: m.ID, At: st.StartedAt, Method: st.Trace.Method, Address: st.Address}
		}
		t := st.Trace
		p.Hops = append(p.Hops, pathHop{TTL: t.TTL, Router: t.Router, Interference: t.Interference, Censor: t.Censor, Answers: t.Answers})
		if t.Reached && p.ServerHops == 0 {
			p.ServerHops = t.TTL
		}
		if t.Censor {
			p.CensorHop, p.Placement = t.TTL, t.Placement
		}
	}
	return p
}
