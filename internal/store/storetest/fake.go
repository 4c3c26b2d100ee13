// Package storetest provides an in-memory store.Store for tests of the
// collector's handlers. It derives history and events naively (the latest
// measurement of a target in a network is its state; no confirmation rule),
// which is enough to render pages, not to check the history semantics.
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store"
)

// Fake is an in-memory store.Store. The zero value is not usable; call New.
type Fake struct {
	mu      sync.Mutex
	now     func() time.Time
	ms      map[string]*model.Measurement
	order   []*model.Measurement // by StartedAt, oldest first
	states  map[stateKey]*store.TargetState
	events  []store.Event // oldest first
	tokens  map[string]*fakeToken
	queue   []store.QueueItem
	queueID int64
	// Fail, when set, makes every method return it (to test error paths).
	fail error
}

type stateKey struct {
	target  string
	country string
	asn     int
}

type fakeToken struct {
	tok  store.Token
	hash string
}

// New returns an empty fake store.
func New() *Fake {
	return &Fake{
		now:    time.Now,
		ms:     map[string]*model.Measurement{},
		states: map[stateKey]*store.TargetState{},
		tokens: map[string]*fakeToken{},
	}
}

// SetNow sets the clock used for the 30-day windows.
func (f *Fake) SetNow(now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = now
}

// SetFail makes every later call return err (nil restores normal behaviour).
func (f *Fake) SetFail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

// Insert stores measurements idempotently by ID and updates states and events.
func (f *Fake) Insert(ctx context.Context, ms []*model.Measurement) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return 0, f.fail
	}
	n := 0
	for _, m := range ms {
		if m == nil || m.ID == "" {
			return n, fmt.Errorf("measurement without id")
		}
		if _, ok := f.ms[m.ID]; ok {
			continue
		}
		f.ms[m.ID] = m
		f.order = append(f.order, m)
		n++
	}
	sort.SliceStable(f.order, func(i, j int) bool { return f.order[i].StartedAt.Before(f.order[j].StartedAt) })
	f.rebuild()
	return n, nil
}

// rebuild recomputes states and events from all measurements (oldest first).
func (f *Fake) rebuild() {
	f.states = map[stateKey]*store.TargetState{}
	var events []store.Event
	now := f.now()
	type win struct{ tests, blocked, throttled int }
	wins := map[stateKey]*win{}
	for _, m := range f.order {
		if m.Status == model.StatusMeasured {
			continue
		}
		k := stateKey{m.Target, m.Probe.Country, m.Probe.ASN}
		st, ok := f.states[k]
		if !ok {
			st = &store.TargetState{Target: m.Target, Category: m.Category, Country: m.Probe.Country, ASN: m.Probe.ASN}
			f.states[k] = st
			wins[k] = &win{}
		}
		st.Tests++
		st.LastTested = m.StartedAt
		st.LastMeasureID = m.ID
		if now.Sub(m.StartedAt) <= 30*24*time.Hour {
			w := wins[k]
			w.tests++
			if m.Status == model.StatusBlocked {
				w.blocked++
			}
			if slices.Contains(m.Methods, model.MethodThrottled) {
				w.throttled++
			}
		}
		if st.Status != m.Status || !slices.Equal(st.Methods, m.Methods) {
			kind := ""
			switch {
			case m.Status == model.StatusBlocked && st.Status != model.StatusBlocked:
				kind = store.EventBlocked
			case m.Status != model.StatusBlocked && st.Status == model.StatusBlocked:
				kind = store.EventUnblocked
			case m.Status == model.StatusBlocked:
				kind = store.EventMethodsChanged
			}
			if kind != "" {
				events = append(events, store.Event{
					ID: int64(len(events) + 1), Target: m.Target, Country: k.country, ASN: k.asn,
					Kind: kind, OldStatus: st.Status, NewStatus: m.Status,
					OldMethods: st.Methods, NewMethods: m.Methods, At: m.StartedAt, MeasureID: m.ID,
				})
			}
			at := m.StartedAt
			st.LastChange = &at
			if m.Status == model.StatusBlocked && st.Status != model.StatusBlocked {
				st.BlockedSince = &at
			}
			if m.Status != model.StatusBlocked {
				st.BlockedSince = nil
			}
			st.Status = m.Status
			st.Methods = slices.Clone(m.Methods)
		}
	}
	for k, st := range f.states {
		w := wins[k]
		st.Tests30d = w.tests
		if w.tests > 0 {
			st.Blocked30d = float64(w.blocked) / float64(w.tests)
			st.Throttled30d = float64(w.throttled) / float64(w.tests)
		}
	}
	f.events = events
}

// Measurement returns one stored measurement.
func (f *Fake) Measurement(ctx context.Context, id string) (*model.Measurement, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	m, ok := f.ms[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return m, nil
}

func matchMeasurement(m *model.Measurement, fl store.Filter) bool {
	switch {
	case fl.Target != "" && m.Target != fl.Target,
		fl.Query != "" && !strings.Contains(strings.ToLower(m.Target), strings.ToLower(fl.Query)),
		fl.Country != "" && m.Probe.Country != fl.Country,
		fl.ASN != 0 && m.Probe.ASN != fl.ASN,
		fl.Method != "" && !slices.Contains(m.Methods, fl.Method),
		fl.Category != "" && m.Category != fl.Category,
		fl.Status != "" && m.Status != fl.Status,
		!fl.Since.IsZero() && m.StartedAt.Before(fl.Since):
		return false
	}
	return true
}

func window[T any](xs []T, p store.Page) []T {
	limit := p.Limit
	if limit <= 0 {
		limit = 50
	}
	if p.Offset >= len(xs) {
		return nil
	}
	xs = xs[p.Offset:]
	if len(xs) > limit {
		xs = xs[:limit]
	}
	return xs
}

// Measurements lists matching measurements, newest first.
func (f *Fake) Measurements(ctx context.Context, fl store.Filter, p store.Page) ([]store.MeasurementRow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var rows []store.MeasurementRow
	need := p.Offset + max(p.Limit, 50)
	for i := len(f.order) - 1; i >= 0 && len(rows) < need; i-- {
		m := f.order[i]
		if !matchMeasurement(m, fl) {
			continue
		}
		rows = append(rows, store.MeasurementRow{
			ID: m.ID, Target: m.Target, Category: m.Category, Country: m.Probe.Country,
			ASN: m.Probe.ASN, StartedAt: m.StartedAt, Status: m.Status, Methods: m.Methods,
		})
	}
	return window(rows, p), nil
}

func matchState(s *store.TargetState, fl store.Filter) bool {
	switch {
	case fl.Target != "" && s.Target != fl.Target,
		fl.Query != "" && !strings.Contains(strings.ToLower(s.Target), strings.ToLower(fl.Query)),
		fl.Country != "" && s.Country != fl.Country,
		fl.ASN != 0 && s.ASN != fl.ASN,
		fl.Method != "" && !slices.Contains(s.Methods, fl.Method),
		fl.Category != "" && s.Category != fl.Category,
		fl.Status != "" && s.Status != fl.Status,
		!fl.Since.IsZero() && s.LastTested.Before(fl.Since):
		return false
	}
	return true
}

func (f *Fake) sortedStates(fl store.Filter) []store.TargetState {
	var out []store.TargetState
	for _, s := range f.states {
		if matchState(s, fl) {
			c := *s
			c.Methods = slices.Clone(s.Methods)
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		if a.Country != b.Country {
			return a.Country < b.Country
		}
		return a.ASN < b.ASN
	})
	return out
}

// Targets lists target states matching fl, ordered by target, country, ASN.
func (f *Fake) Targets(ctx context.Context, fl store.Filter, p store.Page) ([]store.TargetState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	return window(f.sortedStates(fl), p), nil
}

// TargetStates returns the states of one target.
func (f *Fake) TargetStates(ctx context.Context, target string) ([]store.TargetState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	return f.sortedStates(store.Filter{Target: target}), nil
}

// Timeline returns per-day counts over the last days days.
func (f *Fake) Timeline(ctx context.Context, target string, days int) ([]store.DayCount, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	return f.timeline(target, days), nil
}

func (f *Fake) timeline(target string, days int) []store.DayCount {
	today := f.now().UTC().Truncate(24 * time.Hour)
	first := today.AddDate(0, 0, -(days - 1))
	out := make([]store.DayCount, days)
	blocked := make([]map[string]bool, days)
	for i := range out {
		out[i].Day = first.AddDate(0, 0, i)
		blocked[i] = map[string]bool{}
	}
	for _, m := range f.order {
		if target != "" && m.Target != target || m.Status == model.StatusMeasured {
			continue
		}
		d := int(m.StartedAt.UTC().Sub(first) / (24 * time.Hour))
		if m.StartedAt.Before(first) || d >= days {
			continue
		}
		out[d].Tests++
		if m.Status == model.StatusBlocked {
			out[d].Blocked++
			blocked[d][m.Target] = true
		}
	}
	for i := range out {
		out[i].Targets = len(blocked[i])
	}
	return out
}

// Events lists events matching fl, newest first.
func (f *Fake) Events(ctx context.Context, fl store.Filter, p store.Page) ([]store.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var out []store.Event
	for i := len(f.events) - 1; i >= 0; i-- {
		e := f.events[i]
		switch {
		case fl.Target != "" && e.Target != fl.Target,
			fl.Query != "" && !strings.Contains(strings.ToLower(e.Target), strings.ToLower(fl.Query)),
			fl.Country != "" && e.Country != fl.Country,
			fl.ASN != 0 && e.ASN != fl.ASN,
			fl.Method != "" && !slices.Contains(e.NewMethods, fl.Method) && !slices.Contains(e.OldMethods, fl.Method),
			fl.Status != "" && e.NewStatus != fl.Status,
			!fl.Since.IsZero() && e.At.Before(fl.Since):
			continue
		}
		out = append(out, e)
	}
	return window(out, p), nil
}

// Overview returns the front-page figures for states matching fl.
func (f *Fake) Overview(ctx context.Context, fl store.Filter) (store.Overview, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return store.Overview{}, f.fail
	}
	o := store.Overview{ByMethod: map[string]int{}}
	for _, m := range f.order {
		if matchMeasurement(m, fl) {
			o.Measurements++
		}
	}
	targets, blocked := map[string]bool{}, map[string]bool{}
	byMethod := map[string]map[string]bool{}
	for _, s := range f.states {
		if !matchState(s, fl) {
			continue
		}
		targets[s.Target] = true
		if s.Status == model.StatusBlocked {
			blocked[s.Target] = true
			for _, meth := range s.Methods {
				if byMethod[meth] == nil {
					byMethod[meth] = map[string]bool{}
				}
				byMethod[meth][s.Target] = true
			}
		}
	}
	o.Targets, o.BlockedTargets = len(targets), len(blocked)
	for meth, ts := range byMethod {
		o.ByMethod[meth] = len(ts)
	}
	o.Timeline = f.timeline("", 30)
	return o, nil
}

// CreateToken makes a token named name.
func (f *Fake) CreateToken(ctx context.Context, name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return "", f.fail
	}
	if t, ok := f.tokens[name]; ok && t.tok.RevokedAt == nil {
		return "", fmt.Errorf("token %q already exists", name)
	}
	b := make([]byte, 16)
	rand.Read(b)
	secret := "fw_" + hex.EncodeToString(b)
	f.tokens[name] = &fakeToken{tok: store.Token{Name: name, CreatedAt: f.now()}, hash: hashSecret(secret)}
	return secret, nil
}

func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// ListTokens lists tokens by name.
func (f *Fake) ListTokens(ctx context.Context) ([]store.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var out []store.Token
	for _, t := range f.tokens {
		out = append(out, t.tok)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// RevokeToken revokes the token named name.
func (f *Fake) RevokeToken(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	t, ok := f.tokens[name]
	if !ok {
		return store.ErrNotFound
	}
	now := f.now()
	t.tok.RevokedAt = &now
	return nil
}

// Authenticate returns the name of the unrevoked token with this secret.
func (f *Fake) Authenticate(ctx context.Context, secret string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return "", f.fail
	}
	h := hashSecret(secret)
	for _, t := range f.tokens {
		if t.hash == h && t.tok.RevokedAt == nil {
			now := f.now()
			t.tok.LastUsed = &now
			return t.tok.Name, nil
		}
	}
	return "", store.ErrNotFound
}

// Enqueue queues a target.
func (f *Fake) Enqueue(ctx context.Context, target, requestedBy string) (store.QueueItem, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return store.QueueItem{}, f.fail
	}
	f.queueID++
	it := store.QueueItem{ID: f.queueID, Target: target, RequestedBy: requestedBy, RequestedAt: f.now()}
	f.queue = append(f.queue, it)
	return it, nil
}

// Dequeue hands up to n untaken items to agent.
func (f *Fake) Dequeue(ctx context.Context, agent string, n int) ([]store.QueueItem, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var out []store.QueueItem
	for i := range f.queue {
		if len(out) >= n {
			break
		}
		if f.queue[i].TakenBy == "" {
			f.queue[i].TakenBy = agent
			out = append(out, f.queue[i])
		}
	}
	return out, nil
}

// Queue returns a copy of every queued item (for tests).
func (f *Fake) Queue() []store.QueueItem {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.queue)
}

// Close does nothing.
func (f *Fake) Close() error { return nil }

var _ store.Store = (*Fake)(nil)
