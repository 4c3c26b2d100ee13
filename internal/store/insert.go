package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/firewatch/firewatch/internal/model"
)

// row is one measurement ready to insert.
type row struct {
	m    *model.Measurement
	body string
}

// Insert implements Store.
func (s *sqlStore) Insert(ctx context.Context, ms []*model.Measurement) (int, error) {
	rows := make([]row, 0, len(ms))
	seen := make(map[string]bool, len(ms))
	for i, m := range ms {
		if m == nil || m.ID == "" {
			return 0, fmt.Errorf("store: insert: record %d has no id", i)
		}
		if seen[m.ID] {
			continue
		}
		seen[m.ID] = true
		c := *m
		c.Target = NormalizeTarget(noNUL(c.Target))
		c.Category = noNUL(c.Category)
		c.StartedAt = c.StartedAt.UTC()
		b, err := json.Marshal(&c)
		if err != nil {
			return 0, fmt.Errorf("store: insert: record %d (%s): %w", i, m.ID, err)
		}
		rows = append(rows, row{m: &c, body: string(b)})
	}
	if len(rows) == 0 {
		return 0, nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: insert: %w", err)
	}
	defer tx.Rollback()
	if err := s.lock(ctx, tx); err != nil {
		return 0, fmt.Errorf("store: insert: %w", err)
	}
	received := nanos(s.now())
	var fresh []*model.Measurement
	for start := 0; start < len(rows); start += insertChunk {
		chunk := rows[start:min(start+insertChunk, len(rows))]
		ids, err := s.insertChunk(ctx, tx, chunk, received)
		if err != nil {
			return 0, fmt.Errorf("store: insert: %w", err)
		}
		for _, r := range chunk {
			if ids[r.m.ID] {
				fresh = append(fresh, r.m)
			}
		}
	}
	if err := s.updateHistory(ctx, tx, fresh); err != nil {
		return 0, fmt.Errorf("store: insert: history: %w", err)
	}
	if err := s.completeQueue(ctx, tx, fresh); err != nil {
		return 0, fmt.Errorf("store: insert: queue: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: insert: commit: %w", err)
	}
	return len(fresh), nil
}

const measurementCols = 11

func (s *sqlStore) insertChunk(ctx context.Context, tx *sql.Tx, chunk []row, received int64) (map[string]bool, error) {
	var b strings.Builder
	b.WriteString(`INSERT INTO measurements (id, target, category, country, asn, started_at, status, methods, vantage, received_at, body) VALUES `)
	args := make([]any, 0, len(chunk)*measurementCols)
	for i, r := range chunk {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?,?)")
		m := r.m
		args = append(args, m.ID, m.Target, m.Category, m.Probe.Country, m.Probe.ASN, nanos(m.StartedAt),
			m.Status, encodeMethods(sortedMethods(m.Methods)), m.Vantage, received, r.body)
	}
	b.WriteString(` ON CONFLICT (id) DO NOTHING RETURNING id`)
	res, err := tx.QueryContext(ctx, s.q(b.String()), args...)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	ids := make(map[string]bool, len(chunk))
	for res.Next() {
		var id string
		if err := res.Scan(&id); err != nil {
			return nil, err
		}
		ids[id] = true
	}
	return ids, res.Err()
}

type stateKey struct {
	target, country string
	asn             int
}

type dayKey struct {
	stateKey
	day int64
}

type dayCounts struct {
	category                  string
	tests, blocked, throttled int
}

// updateHistory folds newly stored measurements into target_state, the
// daily rollups and events. Measurements from the control vantage are stored
// but are no history of the network they were taken from.
func (s *sqlStore) updateHistory(ctx context.Context, tx *sql.Tx, ms []*model.Measurement) error {
	var probe []*model.Measurement
	for _, m := range ms {
		if m.Vantage != model.VantageControl {
			probe = append(probe, m)
		}
	}
	if len(probe) == 0 {
		return nil
	}
	slices.SortStableFunc(probe, func(a, b *model.Measurement) int { return a.StartedAt.Compare(b.StartedAt) })

	keys := make([]stateKey, 0, len(probe))
	for _, m := range probe {
		keys = append(keys, stateKey{m.Target, m.Probe.Country, m.Probe.ASN})
	}
	states, err := s.loadStates(ctx, tx, keys)
	if err != nil {
		return err
	}
	var order []stateKey
	saved := map[stateKey]bool{}
	daily := map[dayKey]*dayCounts{}
	var dayOrder []dayKey
	var events []*Event
	for _, m := range probe {
		k := stateKey{m.Target, m.Probe.Country, m.Probe.ASN}
		st := states[k]
		if !saved[k] {
			saved[k] = true
			order = append(order, k)
		}
		o := newObs(m)
		if ev := st.apply(o); ev != nil {
			events = append(events, ev)
		}
		dk := dayKey{k, dayOf(m.StartedAt)}
		dc, ok := daily[dk]
		if !ok {
			dc = &dayCounts{}
			daily[dk] = dc
			dayOrder = append(dayOrder, dk)
		}
		dc.category = st.Category
		dc.tests++
		if m.Status == model.StatusBlocked {
			dc.blocked++
			if slices.Contains(o.Methods, model.MethodThrottled) {
				dc.throttled++
			}
		}
	}
	if err := s.saveStates(ctx, tx, states, order); err != nil {
		return err
	}
	if err := s.saveDaily(ctx, tx, daily, dayOrder); err != nil {
		return err
	}
	kevs, err := s.updateKeywords(ctx, tx, probe)
	if err != nil {
		return err
	}
	for _, ev := range append(events, kevs...) {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO events (target, country, asn, kind, old_status, new_status, old_methods, new_methods, at, measure_id, keyword)
			VALUES (?,?,?,?,?,?,?,?,?,?,?)`),
			ev.Target, ev.Country, ev.ASN, ev.Kind, ev.OldStatus, ev.NewStatus,
			encodeMethods(ev.OldMethods), encodeMethods(ev.NewMethods), nanos(ev.At), ev.MeasureID, ev.Keyword); err != nil {
			return err
		}
	}
	return nil
}

const stateCols = `target, country, asn, category, status, methods, blocked_since, last_change, last_tested, tests, last_id, pend_status, pend_methods, pend_since, last_decisive`

// loadStates reads the states of the given keys (new keys get an empty
// state).
func (s *sqlStore) loadStates(ctx context.Context, tx *sql.Tx, keys []stateKey) (map[stateKey]*state, error) {
	states := make(map[stateKey]*state, len(keys))
	var targets []any
	seen := map[string]bool{}
	for _, k := range keys {
		if !seen[k.target] {
			seen[k.target] = true
			targets = append(targets, k.target)
		}
	}
	for start := 0; start < len(targets); start += 500 {
		chunk := targets[start:min(start+500, len(targets))]
		rs, err := tx.QueryContext(ctx, s.q(`SELECT `+stateCols+` FROM target_state WHERE target IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`), chunk...)
		if err != nil {
			return nil, err
		}
		for rs.Next() {
			st := &state{}
			var methods, pend string
			var since, change sql.NullInt64
			var tested, pendSince, lastDec int64
			if err := rs.Scan(&st.Target, &st.Country, &st.ASN, &st.Category, &st.Status, &methods, &since, &change, &tested, &st.Tests, &st.LastID,
				&st.PendStatus, &pend, &pendSince, &lastDec); err != nil {
				rs.Close()
				return nil, err
			}
			st.Methods, st.PendMethods = decodeMethods(methods), decodeMethods(pend)
			st.BlockedSince, st.LastChange = fromNull(since), fromNull(change)
			st.LastTested, st.PendSince, st.LastDecisive = fromNanos(tested), fromNanos(pendSince), fromNanos(lastDec)
			states[stateKey{st.Target, st.Country, st.ASN}] = st
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, err
		}
	}
	for _, k := range keys {
		if states[k] == nil {
			states[k] = &state{Target: k.target, Country: k.country, ASN: k.asn, Methods: []string{}}
		}
	}
	return states, nil
}

func (s *sqlStore) saveStates(ctx context.Context, tx *sql.Tx, states map[stateKey]*state, order []stateKey) error {
	rows := make([][]any, 0, len(order))
	for _, k := range order {
		st := states[k]
		rows = append(rows, []any{st.Target, st.Country, st.ASN, st.Category, st.Status, encodeMethods(st.Methods),
			ptrNanos(st.BlockedSince), ptrNanos(st.LastChange), nanos(st.LastTested), st.Tests, st.LastID,
			st.PendStatus, encodeMethods(st.PendMethods), nanos(st.PendSince), nanos(st.LastDecisive)})
	}
	return s.values(ctx, tx, `INSERT INTO target_state (`+stateCols+`)`, 15, rows,
		`ON CONFLICT (target, country, asn) DO UPDATE SET category = excluded.category, status = excluded.status,
		methods = excluded.methods, blocked_since = excluded.blocked_since, last_change = excluded.last_change,
		last_tested = excluded.last_tested, tests = excluded.tests, last_id = excluded.last_id,
		pend_status = excluded.pend_status, pend_methods = excluded.pend_methods, pend_since = excluded.pend_since,
		last_decisive = excluded.last_decisive`, nil)
}
