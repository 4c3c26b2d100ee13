package store

import (
	"slices"
	"time"

	"github.com/firewatch/firewatch/internal/model"
)

// Event kinds.
const (
	EventBlocked        = "blocked"
	EventUnblocked      = "unblocked"
	EventMethodsChanged = "methods_changed"
)

// state is the stored history of one target in one network, with the
// bookkeeping needed to confirm changes.
type state struct {
	Target, Country string
	ASN             int
	Category        string
	Status          string
	Methods         []string
	BlockedSince    *time.Time
	LastChange      *time.Time
	LastTested      time.Time
	Tests           int
	LastID          string

	// The last decisive (ok/blocked) observation, not yet necessarily confirmed.
	PendStatus   string
	PendMethods  []string
	PendSince    time.Time // first measurement of the current agreeing streak
	LastDecisive time.Time
}

// obs is what history needs of one measurement.
type obs struct {
	ID        string
	Category  string
	StartedAt time.Time
	Status    string
	Methods   []string // sorted
	Agreed    int      // Verdict.Confidence.Agreed, 0 without
}

func newObs(m *model.Measurement) obs {
	o := obs{ID: m.ID, Category: m.Category, StartedAt: m.StartedAt.UTC(), Status: m.Status, Methods: sortedMethods(m.Methods)}
	if m.Verdict != nil && m.Verdict.Confidence != nil {
		o.Agreed = m.Verdict.Confidence.Agreed
	}
	return o
}

// decisive reports whether a status can change the confirmed state. Other
// statuses (measured, down, error) are counted as tests but say nothing
// about censorship.
func decisive(status string) bool { return status == model.StatusOK || status == model.StatusBlocked }

// apply folds one observation into the state and returns the event it
// confirms, if any. A change is confirmed when the verdict itself says at
// least two tries agreed, or when the previous decisive observation of this
// target in this network agrees with it (same status and methods). An
// observation older than the last decisive one (a late upload) is counted but
// does not move the state.
func (st *state) apply(o obs) *Event {
	st.Tests++
	if st.Tests == 1 || !o.StartedAt.Before(st.LastTested) {
		st.LastTested = o.StartedAt
		st.LastID = o.ID
	}
	if o.Category != "" {
		st.Category = o.Category
	}
	if st.Status == "" {
		st.Status = StatusUnconfirmed
	}
	if !decisive(o.Status) || o.StartedAt.Before(st.LastDecisive) {
		return nil
	}
	st.LastDecisive = o.StartedAt
	methods := o.Methods
	if o.Status != model.StatusBlocked {
		methods = []string{}
	}
	agrees := st.PendStatus == o.Status && equalMethods(st.PendMethods, methods)
	if !agrees {
		st.PendStatus, st.PendMethods, st.PendSince = o.Status, methods, o.StartedAt
	}
	if !agrees && o.Agreed < 2 {
		return nil
	}
	if st.Status == o.Status && equalMethods(st.Methods, methods) {
		return nil
	}
	since := st.PendSince
	ev := &Event{
		Target: st.Target, Country: st.Country, ASN: st.ASN,
		OldStatus: st.Status, NewStatus: o.Status,
		OldMethods: slices.Clone(st.Methods), NewMethods: slices.Clone(methods),
		At: since, MeasureID: o.ID,
	}
	if ev.OldMethods == nil {
		ev.OldMethods = []string{}
	}
	switch {
	case o.Status == model.StatusBlocked && st.Status != model.StatusBlocked:
		ev.Kind = EventBlocked
		st.BlockedSince = &since
	case o.Status != model.StatusBlocked && st.Status == model.StatusBlocked:
		ev.Kind = EventUnblocked
		st.BlockedSince = nil
	case o.Status == model.StatusBlocked:
		ev.Kind = EventMethodsChanged
	default: // first confirmation of "ok": nothing changed for a reader
		ev = nil
	}
	st.Status, st.Methods = o.Status, methods
	st.LastChange = &since
	return ev
}
