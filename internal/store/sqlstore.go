package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firewatch/firewatch/internal/model"
)

const (
	defaultLimit = 50
	maxLimit     = 1000
	insertChunk  = 200 // rows per multi-row INSERT
	dayNanos     = int64(24 * time.Hour)
)

// sqlStore implements Store on database/sql for SQLite and PostgreSQL; the
// SQL is common, with "?" placeholders rewritten for PostgreSQL.
type sqlStore struct {
	db  *sql.DB
	pg  bool
	wmu sync.Mutex // one writer at a time (SQLite's rule; cheap for PostgreSQL)
	now func() time.Time

	qmu    sync.Mutex
	qcache map[string]string
}

// q rewrites "?" placeholders to "$n" for PostgreSQL.
func (s *sqlStore) q(query string) string {
	if !s.pg {
		return query
	}
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if r, ok := s.qcache[query]; ok {
		return r
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	if s.qcache == nil {
		s.qcache = map[string]string{}
	}
	if len(s.qcache) < 512 {
		s.qcache[query] = b.String()
	}
	return b.String()
}

// lock takes PostgreSQL's transaction-level advisory lock for this schema so
// that concurrent collectors writing the same database serialize their
// history updates.
func (s *sqlStore) lock(ctx context.Context, tx *sql.Tx) error {
	if !s.pg {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext(current_schema()))`)
	return err
}

func (s *sqlStore) Close() error { return s.db.Close() }

// noNUL drops NUL bytes, which PostgreSQL's text columns cannot hold.
func noNUL(s string) string { return strings.ReplaceAll(s, "\x00", "") }

func nanos(t time.Time) int64 { return t.UTC().UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func ptrNanos(t *time.Time) any {
	if t == nil {
		return nil
	}
	return nanos(*t)
}

func fromNull(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromNanos(n.Int64)
	return &t
}

func dayOf(t time.Time) int64 {
	n := nanos(t)
	d := n / dayNanos
	if n < 0 && n%dayNanos != 0 {
		d--
	}
	return d * dayNanos
}

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
		if m.Vantage != "control" {
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
	for _, ev := range events {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO events (target, country, asn, kind, old_status, new_status, old_methods, new_methods, at, measure_id)
			VALUES (?,?,?,?,?,?,?,?,?,?)`),
			ev.Target, ev.Country, ev.ASN, ev.Kind, ev.OldStatus, ev.NewStatus,
			encodeMethods(ev.OldMethods), encodeMethods(ev.NewMethods), nanos(ev.At), ev.MeasureID); err != nil {
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

// values runs "prefix VALUES (?,..),(?,..) suffix" over rows in chunks, with
// scan (if not nil) called for each returned row.
func (s *sqlStore) values(ctx context.Context, tx *sql.Tx, prefix string, ncols int, rows [][]any, suffix string, scan func(*sql.Rows) error) error {
	tuple := "(?" + strings.Repeat(",?", ncols-1) + ")"
	per := max(1, 3000/ncols)
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(start+per, len(rows))]
		var b strings.Builder
		b.WriteString(prefix)
		b.WriteString(" VALUES ")
		args := make([]any, 0, len(chunk)*ncols)
		for i, r := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(tuple)
			args = append(args, r...)
		}
		b.WriteString(" ")
		b.WriteString(suffix)
		if scan == nil {
			if _, err := tx.ExecContext(ctx, s.q(b.String()), args...); err != nil {
				return err
			}
			continue
		}
		rs, err := tx.QueryContext(ctx, s.q(b.String()), args...)
		if err != nil {
			return err
		}
		for rs.Next() {
			if err := scan(rs); err != nil {
				rs.Close()
				return err
			}
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return err
		}
	}
	return nil
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

// saveDaily adds the day counts to the three rollups: per target and
// network (30-day shares), per target (a target's timeline) and in total
// (the overview's timeline, with the number of distinct targets blocked).
func (s *sqlStore) saveDaily(ctx context.Context, tx *sql.Tx, daily map[dayKey]*dayCounts, order []dayKey) error {
	type tday struct {
		target string
		day    int64
	}
	perTarget := map[tday]*dayCounts{}
	var tOrder []tday
	rows := make([][]any, 0, len(order))
	for _, k := range order {
		dc := daily[k]
		rows = append(rows, []any{k.target, k.country, k.asn, k.day, dc.category, dc.tests, dc.blocked, dc.throttled})
		tk := tday{k.target, k.day}
		t, ok := perTarget[tk]
		if !ok {
			t = &dayCounts{}
			perTarget[tk] = t
			tOrder = append(tOrder, tk)
		}
		t.tests += dc.tests
		t.blocked += dc.blocked
	}
	type nday struct {
		country string
		asn     int
		day     int64
	}
	type totals struct{ tests, blocked, targets int }
	perNet := map[nday]*totals{}
	var nOrder []nday
	for _, k := range order {
		nk := nday{k.country, k.asn, k.day}
		nt, ok := perNet[nk]
		if !ok {
			nt = &totals{}
			perNet[nk] = nt
			nOrder = append(nOrder, nk)
		}
		nt.tests += daily[k].tests
		nt.blocked += daily[k].blocked
	}
	if err := s.values(ctx, tx, `INSERT INTO daily (target, country, asn, day, category, tests, blocked, throttled)`, 8, rows,
		`ON CONFLICT (target, country, asn, day) DO UPDATE SET category = excluded.category,
		tests = daily.tests + excluded.tests, blocked = daily.blocked + excluded.blocked, throttled = daily.throttled + excluded.throttled
		RETURNING target, country, asn, day, blocked`, func(rs *sql.Rows) error {
			var k dayKey
			var blocked int
			if err := rs.Scan(&k.target, &k.country, &k.asn, &k.day, &blocked); err != nil {
				return err
			}
			if dc := daily[k]; dc != nil && dc.blocked > 0 && blocked == dc.blocked { // first blocked test of this target in this network that day
				perNet[nday{k.country, k.asn, k.day}].targets++
			}
			return nil
		}); err != nil {
		return err
	}
	for _, nk := range nOrder {
		nt := perNet[nk]
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO day_network (country, asn, day, tests, blocked, blocked_targets) VALUES (?,?,?,?,?,?)
			ON CONFLICT (country, asn, day) DO UPDATE SET tests = day_network.tests + excluded.tests, blocked = day_network.blocked + excluded.blocked,
			blocked_targets = day_network.blocked_targets + excluded.blocked_targets`), nk.country, nk.asn, nk.day, nt.tests, nt.blocked, nt.targets); err != nil {
			return err
		}
	}
	total := map[int64]*totals{}
	var days []int64
	rows = rows[:0]
	for _, tk := range tOrder {
		t := perTarget[tk]
		rows = append(rows, []any{tk.target, tk.day, t.tests, t.blocked})
		tt, ok := total[tk.day]
		if !ok {
			tt = &totals{}
			total[tk.day] = tt
			days = append(days, tk.day)
		}
		tt.tests += t.tests
		tt.blocked += t.blocked
	}
	if err := s.values(ctx, tx, `INSERT INTO day_target (target, day, tests, blocked)`, 4, rows,
		`ON CONFLICT (target, day) DO UPDATE SET tests = day_target.tests + excluded.tests, blocked = day_target.blocked + excluded.blocked
		RETURNING target, day, blocked`, func(rs *sql.Rows) error {
			var tk tday
			var blocked int
			if err := rs.Scan(&tk.target, &tk.day, &blocked); err != nil {
				return err
			}
			if t := perTarget[tk]; t != nil && t.blocked > 0 && blocked == t.blocked { // first blocked test of this target that day
				total[tk.day].targets++
			}
			return nil
		}); err != nil {
		return err
	}
	for _, d := range days {
		tt := total[d]
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO day_total (day, tests, blocked, blocked_targets) VALUES (?,?,?,?)
			ON CONFLICT (day) DO UPDATE SET tests = day_total.tests + excluded.tests, blocked = day_total.blocked + excluded.blocked,
			blocked_targets = day_total.blocked_targets + excluded.blocked_targets`), d, tt.tests, tt.blocked, tt.targets); err != nil {
			return err
		}
	}
	return nil
}

// Measurement implements Store.
func (s *sqlStore) Measurement(ctx context.Context, id string) (*model.Measurement, error) {
	var body string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT body FROM measurements WHERE id = ?`), id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("measurement %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: measurement %q: %w", id, err)
	}
	m := new(model.Measurement)
	if err := json.Unmarshal([]byte(body), m); err != nil {
		return nil, fmt.Errorf("store: measurement %q: decode: %w", id, err)
	}
	return m, nil
}

// where builds a WHERE clause for f over the given columns (a column name
// "" means the table lacks that field and the filter is ignored).
type cols struct{ target, country, asn, methods, category, status, since string }

func where(f Filter, c cols) (string, []any) {
	var conds []string
	var args []any
	add := func(col, op string, v any) {
		if col != "" {
			conds = append(conds, col+op)
			args = append(args, v)
		}
	}
	if f.Target != "" {
		add(c.target, " = ?", NormalizeTarget(f.Target))
	}
	if f.Query != "" {
		if c.target != "" {
			conds = append(conds, "LOWER("+c.target+`) LIKE ? ESCAPE '\'`)
			args = append(args, "%"+escapeLike(strings.ToLower(f.Query))+"%")
		}
	}
	if f.Country != "" {
		add(c.country, " = ?", strings.ToUpper(f.Country))
	}
	if f.ASN != 0 {
		add(c.asn, " = ?", f.ASN)
	}
	if f.Method != "" {
		add(c.methods, " LIKE ?", "%,"+escapeLike(f.Method)+",%")
		if c.methods != "" {
			conds[len(conds)-1] += ` ESCAPE '\'`
		}
	}
	if f.Category != "" {
		add(c.category, " = ?", f.Category)
	}
	if f.Status != "" {
		add(c.status, " = ?", f.Status)
	}
	if !f.Since.IsZero() {
		add(c.since, " >= ?", nanos(f.Since))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

func limits(p Page) (int, int) {
	l := p.Limit
	if l <= 0 {
		l = defaultLimit
	}
	if l > maxLimit {
		l = maxLimit
	}
	return l, max(p.Offset, 0)
}

var measurementFilterCols = cols{"target", "country", "asn", "methods", "category", "status", "started_at"}

// Measurements implements Store.
func (s *sqlStore) Measurements(ctx context.Context, f Filter, p Page) ([]MeasurementRow, error) {
	w, args := where(f, measurementFilterCols)
	l, o := limits(p)
	args = append(args, l, o)
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT id, target, category, country, asn, started_at, status, methods FROM measurements`+w+
		` ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?`), args...)
	if err != nil {
		return nil, fmt.Errorf("store: measurements: %w", err)
	}
	defer rs.Close()
	out := []MeasurementRow{}
	for rs.Next() {
		var r MeasurementRow
		var started int64
		var methods string
		if err := rs.Scan(&r.ID, &r.Target, &r.Category, &r.Country, &r.ASN, &started, &r.Status, &methods); err != nil {
			return nil, fmt.Errorf("store: measurements: %w", err)
		}
		r.StartedAt, r.Methods = fromNanos(started), decodeMethods(methods)
		out = append(out, r)
	}
	return out, rs.Err()
}

// Exporter is implemented by stores that can stream whole measurements
// efficiently (the API's JSON Lines export uses it when available).
type Exporter interface {
	// Export calls fn with each measurement matching f, newest first, until
	// fn returns an error or limit rows were sent (0: no limit).
	Export(ctx context.Context, f Filter, limit int, fn func(*model.Measurement) error) error
}

// Export implements Exporter.
func (s *sqlStore) Export(ctx context.Context, f Filter, limit int, fn func(*model.Measurement) error) error {
	w, args := where(f, measurementFilterCols)
	query := `SELECT body FROM measurements` + w + ` ORDER BY started_at DESC, id DESC`
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	rs, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return fmt.Errorf("store: export: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var body string
		if err := rs.Scan(&body); err != nil {
			return fmt.Errorf("store: export: %w", err)
		}
		m := new(model.Measurement)
		if err := json.Unmarshal([]byte(body), m); err != nil {
			return fmt.Errorf("store: export: decode: %w", err)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return rs.Err()
}

var stateFilterCols = cols{"target", "country", "asn", "methods", "category", "status", "last_tested"}

// Targets implements Store. Rows are ordered by target, country, ASN.
func (s *sqlStore) Targets(ctx context.Context, f Filter, p Page) ([]TargetState, error) {
	w, args := where(f, stateFilterCols)
	l, o := limits(p)
	args = append(args, l, o)
	return s.states(ctx, `SELECT target, country, asn, category, status, methods, blocked_since, last_change, last_tested, tests, last_id
		FROM target_state`+w+` ORDER BY target, country, asn LIMIT ? OFFSET ?`, args...)
}

// TargetStates implements Store.
func (s *sqlStore) TargetStates(ctx context.Context, target string) ([]TargetState, error) {
	return s.states(ctx, `SELECT target, country, asn, category, status, methods, blocked_since, last_change, last_tested, tests, last_id
		FROM target_state WHERE target = ? ORDER BY country, asn`, NormalizeTarget(target))
}

func (s *sqlStore) states(ctx context.Context, query string, args ...any) ([]TargetState, error) {
	rs, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("store: targets: %w", err)
	}
	out := []TargetState{}
	for rs.Next() {
		var t TargetState
		var methods string
		var since, change sql.NullInt64
		var tested int64
		if err := rs.Scan(&t.Target, &t.Country, &t.ASN, &t.Category, &t.Status, &methods, &since, &change, &tested, &t.Tests, &t.LastMeasureID); err != nil {
			rs.Close()
			return nil, fmt.Errorf("store: targets: %w", err)
		}
		t.Methods, t.BlockedSince, t.LastChange, t.LastTested = decodeMethods(methods), fromNull(since), fromNull(change), fromNanos(tested)
		out = append(out, t)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: targets: %w", err)
	}
	if err := s.fill30d(ctx, out); err != nil {
		return nil, fmt.Errorf("store: targets: 30 days: %w", err)
	}
	return out, nil
}

// fill30d sets the 30-day counts of the given states from the daily rollup.
func (s *sqlStore) fill30d(ctx context.Context, ts []TargetState) error {
	if len(ts) == 0 {
		return nil
	}
	idx := map[stateKey]int{}
	targets := map[string]bool{}
	var args []any
	args = append(args, s.firstDay(30))
	for i, t := range ts {
		idx[stateKey{t.Target, t.Country, t.ASN}] = i
		if !targets[t.Target] {
			targets[t.Target] = true
			args = append(args, t.Target)
		}
	}
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT target, country, asn, SUM(tests), SUM(blocked), SUM(throttled) FROM daily
		WHERE day >= ? AND target IN (?`+strings.Repeat(",?", len(targets)-1)+`) GROUP BY target, country, asn`), args...)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		var k stateKey
		var tests, blocked, throttled int
		if err := rs.Scan(&k.target, &k.country, &k.asn, &tests, &blocked, &throttled); err != nil {
			return err
		}
		i, ok := idx[k]
		if !ok || tests == 0 {
			continue
		}
		ts[i].Tests30d = tests
		ts[i].Blocked30d = float64(blocked) / float64(tests)
		ts[i].Throttled30d = float64(throttled) / float64(tests)
	}
	return rs.Err()
}

// firstDay is the start (UTC midnight, Unix nanoseconds) of a window of the
// last n days, today included.
func (s *sqlStore) firstDay(n int) int64 {
	return dayOf(s.now()) - int64(n-1)*dayNanos
}

// Timeline implements Store: one entry per day of the last days days (today
// included), oldest first, zero-filled.
func (s *sqlStore) Timeline(ctx context.Context, target string, days int) ([]DayCount, error) {
	if days <= 0 {
		days = 30
	}
	if days > 3660 {
		days = 3660
	}
	first := s.firstDay(days)
	var rs *sql.Rows
	var err error
	if target == "" {
		rs, err = s.db.QueryContext(ctx, s.q(`SELECT day, tests, blocked, blocked_targets FROM day_total WHERE day >= ? ORDER BY day`), first)
	} else {
		rs, err = s.db.QueryContext(ctx, s.q(`SELECT day, tests, blocked, CASE WHEN blocked > 0 THEN 1 ELSE 0 END FROM day_target
			WHERE target = ? AND day >= ? ORDER BY day`), NormalizeTarget(target), first)
	}
	if err != nil {
		return nil, fmt.Errorf("store: timeline: %w", err)
	}
	return s.dayCounts(rs, first, days)
}

func (s *sqlStore) dayCounts(rs *sql.Rows, first int64, days int) ([]DayCount, error) {
	defer rs.Close()
	out := make([]DayCount, days)
	for i := range out {
		out[i].Day = fromNanos(first + int64(i)*dayNanos)
	}
	for rs.Next() {
		var day int64
		var c DayCount
		if err := rs.Scan(&day, &c.Tests, &c.Blocked, &c.Targets); err != nil {
			return nil, fmt.Errorf("store: timeline: %w", err)
		}
		i := int((day - first) / dayNanos)
		if i < 0 || i >= days {
			continue
		}
		c.Day = out[i].Day
		out[i] = c
	}
	return out, rs.Err()
}

var eventFilterCols = cols{"target", "country", "asn", "new_methods", "", "new_status", "at"}

// Events implements Store. Filter.Status matches the new status and
// Filter.Method a method among the new ones.
func (s *sqlStore) Events(ctx context.Context, f Filter, p Page) ([]Event, error) {
	w, args := where(f, eventFilterCols)
	l, o := limits(p)
	args = append(args, l, o)
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT id, target, country, asn, kind, old_status, new_status, old_methods, new_methods, at, measure_id
		FROM events`+w+` ORDER BY at DESC, id DESC LIMIT ? OFFSET ?`), args...)
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	defer rs.Close()
	out := []Event{}
	for rs.Next() {
		var e Event
		var om, nm string
		var at int64
		if err := rs.Scan(&e.ID, &e.Target, &e.Country, &e.ASN, &e.Kind, &e.OldStatus, &e.NewStatus, &om, &nm, &at, &e.MeasureID); err != nil {
			return nil, fmt.Errorf("store: events: %w", err)
		}
		e.OldMethods, e.NewMethods, e.At = decodeMethods(om), decodeMethods(nm), fromNanos(at)
		out = append(out, e)
	}
	return out, rs.Err()
}

// Overview implements Store. Counts come from target_state (one row per
// target and network) and the timeline from the daily rollups, so its cost
// does not grow with the number of stored measurements. With a Country, ASN
// or Category filter the timeline is computed from the per-network rollup.
func (s *sqlStore) Overview(ctx context.Context, f Filter) (Overview, error) {
	ov := Overview{ByMethod: map[string]int{}}
	sf := f
	sf.Status, sf.Since = "", time.Time{}
	w, args := where(sf, stateFilterCols)
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COALESCE(SUM(tests), 0), COUNT(DISTINCT target) FROM target_state`+w), args...).
		Scan(&ov.Measurements, &ov.Targets); err != nil {
		return ov, fmt.Errorf("store: overview: %w", err)
	}
	bf := sf
	bf.Status = model.StatusBlocked
	w, args = where(bf, stateFilterCols)
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT target, methods FROM target_state`+w), args...)
	if err != nil {
		return ov, fmt.Errorf("store: overview: %w", err)
	}
	blocked := map[string]bool{}
	perMethod := map[string]map[string]bool{}
	for rs.Next() {
		var target, methods string
		if err := rs.Scan(&target, &methods); err != nil {
			rs.Close()
			return ov, fmt.Errorf("store: overview: %w", err)
		}
		blocked[target] = true
		for _, m := range decodeMethods(methods) {
			if perMethod[m] == nil {
				perMethod[m] = map[string]bool{}
			}
			perMethod[m][target] = true
		}
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return ov, fmt.Errorf("store: overview: %w", err)
	}
	ov.BlockedTargets = len(blocked)
	for m, ts := range perMethod {
		ov.ByMethod[m] = len(ts)
	}
	const days = 30
	first := s.firstDay(days)
	switch {
	case f.Country == "" && f.ASN == 0 && f.Category == "" && f.Target == "" && f.Query == "":
		ov.Timeline, err = s.Timeline(ctx, "", days)
	case f.Target != "" && f.Country == "" && f.ASN == 0:
		ov.Timeline, err = s.Timeline(ctx, f.Target, days)
	case f.Category == "" && f.Target == "" && f.Query == "":
		// Country and/or ASN: the per-network rollup. Its "targets" sums
		// the targets blocked in each network of the country.
		tf := Filter{Country: f.Country, ASN: f.ASN, Since: fromNanos(first)}
		w, args := where(tf, cols{"", "country", "asn", "", "", "", "day"})
		rs, err = s.db.QueryContext(ctx, s.q(`SELECT day, SUM(tests), SUM(blocked), SUM(blocked_targets) FROM day_network`+w+` GROUP BY day ORDER BY day`), args...)
		if err == nil {
			ov.Timeline, err = s.dayCounts(rs, first, days)
		}
	default:
		tf := Filter{Target: f.Target, Query: f.Query, Country: f.Country, ASN: f.ASN, Category: f.Category, Since: fromNanos(first)}
		w, args := where(tf, cols{"target", "country", "asn", "", "category", "", "day"})
		rs, err = s.db.QueryContext(ctx, s.q(`SELECT day, SUM(tests), SUM(blocked), COUNT(DISTINCT CASE WHEN blocked > 0 THEN target END)
			FROM daily`+w+` GROUP BY day ORDER BY day`), args...)
		if err == nil {
			ov.Timeline, err = s.dayCounts(rs, first, days)
		}
	}
	if err != nil {
		return ov, fmt.Errorf("store: overview: %w", err)
	}
	return ov, nil
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// CreateToken implements Store. The secret is "fw_" and 32 random bytes in
// base64url; only its SHA-256 is stored.
func (s *sqlStore) CreateToken(ctx context.Context, name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 128 {
		return "", errors.New("store: token name must be 1 to 128 characters")
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	secret := "fw_" + base64.RawURLEncoding.EncodeToString(buf)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO tokens (name, hash, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`),
		name, hashSecret(secret), nanos(s.now()))
	if err != nil {
		return "", fmt.Errorf("store: create token %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return "", fmt.Errorf("store: token %q: %w", name, ErrExists)
	}
	return secret, nil
}

// ListTokens implements Store.
func (s *sqlStore) ListTokens(ctx context.Context) ([]Token, error) {
	rs, err := s.db.QueryContext(ctx, `SELECT name, created_at, revoked_at, last_used FROM tokens ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: tokens: %w", err)
	}
	defer rs.Close()
	out := []Token{}
	for rs.Next() {
		var t Token
		var created int64
		var revoked, used sql.NullInt64
		if err := rs.Scan(&t.Name, &created, &revoked, &used); err != nil {
			return nil, fmt.Errorf("store: tokens: %w", err)
		}
		t.CreatedAt, t.RevokedAt, t.LastUsed = fromNanos(created), fromNull(revoked), fromNull(used)
		out = append(out, t)
	}
	return out, rs.Err()
}

// RevokeToken implements Store. Revoking an already revoked token is not an
// error; an unknown name is ErrNotFound.
func (s *sqlStore) RevokeToken(ctx context.Context, name string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE name = ?`), nanos(s.now()), name)
	if err != nil {
		return fmt.Errorf("store: revoke token %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: token %q: %w", name, ErrNotFound)
	}
	return nil
}

// Authenticate implements Store. It records the time of use at most once a
// minute per token.
func (s *sqlStore) Authenticate(ctx context.Context, secret string) (string, error) {
	if secret == "" {
		return "", ErrUnauthorized
	}
	var name string
	var revoked, used sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT name, revoked_at, last_used FROM tokens WHERE hash = ?`), hashSecret(secret)).Scan(&name, &revoked, &used)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && revoked.Valid) {
		return "", ErrUnauthorized
	}
	if err != nil {
		return "", fmt.Errorf("store: authenticate: %w", err)
	}
	now := nanos(s.now())
	if !used.Valid || now-used.Int64 > int64(time.Minute) {
		s.wmu.Lock()
		_, err = s.db.ExecContext(ctx, s.q(`UPDATE tokens SET last_used = ? WHERE name = ?`), now, name)
		s.wmu.Unlock()
		if err != nil {
			return "", fmt.Errorf("store: authenticate: %w", err)
		}
	}
	return name, nil
}

// Enqueue implements Store.
func (s *sqlStore) Enqueue(ctx context.Context, target, requestedBy string) (QueueItem, error) {
	it := QueueItem{Target: NormalizeTarget(target), RequestedBy: requestedBy, RequestedAt: s.now().UTC()}
	if it.Target == "" {
		return it, errors.New("store: enqueue: empty target")
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	err := s.db.QueryRowContext(ctx, s.q(`INSERT INTO queue (target, requested_by, requested_at) VALUES (?, ?, ?) RETURNING id`),
		it.Target, it.RequestedBy, nanos(it.RequestedAt)).Scan(&it.ID)
	if err != nil {
		return it, fmt.Errorf("store: enqueue: %w", err)
	}
	return it, nil
}

// Dequeue implements Store: it marks up to n of the oldest untaken items as
// taken by agent and returns them. Each item is handed out once.
func (s *sqlStore) Dequeue(ctx context.Context, agent string, n int) ([]QueueItem, error) {
	if n <= 0 {
		n = 1
	}
	if agent == "" {
		return nil, errors.New("store: dequeue: empty agent name")
	}
	lockRows := ""
	if s.pg {
		lockRows = " FOR UPDATE SKIP LOCKED"
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	rs, err := s.db.QueryContext(ctx, s.q(`UPDATE queue SET taken_by = ?, taken_at = ?
		WHERE id IN (SELECT id FROM queue WHERE taken_by = '' ORDER BY id LIMIT ?`+lockRows+`)
		RETURNING id, target, requested_by, requested_at, taken_by`), agent, nanos(s.now()), n)
	if err != nil {
		return nil, fmt.Errorf("store: dequeue: %w", err)
	}
	defer rs.Close()
	out := []QueueItem{}
	for rs.Next() {
		var it QueueItem
		var at int64
		if err := rs.Scan(&it.ID, &it.Target, &it.RequestedBy, &at, &it.TakenBy); err != nil {
			return nil, fmt.Errorf("store: dequeue: %w", err)
		}
		it.RequestedAt = fromNanos(at)
		out = append(out, it)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: dequeue: %w", err)
	}
	slices.SortFunc(out, func(a, b QueueItem) int { return int(a.ID - b.ID) })
	return out, nil
}
