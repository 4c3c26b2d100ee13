package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/firewatch/firewatch/internal/model"
)

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

// Export pages: a page ends after this many rows or bodies, whichever
// comes first.
const (
	exportPageRows  = 256
	exportPageBytes = 4 << 20
)

// Export implements Exporter. It reads keyset pages (started_at, id) and
// closes each before calling fn, so that no database connection is held
// while fn waits on a slow client and memory is one page whatever the
// export's size.
func (s *sqlStore) Export(ctx context.Context, f Filter, limit int, fn func(*model.Measurement) error) error {
	type rec struct {
		started int64
		id      string
		body    string
	}
	var last *rec
	sent := 0
	page := make([]rec, 0, exportPageRows)
	for limit <= 0 || sent < limit {
		w, args := where(f, measurementFilterCols)
		if last != nil {
			w = andWhere(w, `(started_at < ? OR (started_at = ? AND id < ?))`)
			args = append(args, last.started, last.started, last.id)
		}
		n := exportPageRows
		if limit > 0 {
			n = min(n, limit-sent)
		}
		args = append(args, n)
		rs, err := s.db.QueryContext(ctx, s.q(`SELECT started_at, id, body FROM measurements`+w+` ORDER BY started_at DESC, id DESC LIMIT ?`), args...)
		if err != nil {
			return fmt.Errorf("store: export: %w", err)
		}
		page = page[:0]
		size := 0
		for size < exportPageBytes && rs.Next() {
			var r rec
			if err := rs.Scan(&r.started, &r.id, &r.body); err != nil {
				rs.Close()
				return fmt.Errorf("store: export: %w", err)
			}
			page = append(page, r)
			size += len(r.body)
		}
		full := len(page) == n || size >= exportPageBytes
		rs.Close()
		if err := rs.Err(); err != nil {
			return fmt.Errorf("store: export: %w", err)
		}
		for i := range page {
			m := new(model.Measurement)
			if err := json.Unmarshal([]byte(page[i].body), m); err != nil {
				return fmt.Errorf("store: export: decode %s: %w", page[i].id, err)
			}
			page[i].body = ""
			if err := fn(m); err != nil {
				return err
			}
		}
		sent += len(page)
		if !full || len(page) == 0 {
			return nil
		}
		last = &page[len(page)-1]
	}
	return nil
}

// andWhere adds a condition to a WHERE clause built by where.
func andWhere(w, cond string) string {
	if w == "" {
		return " WHERE " + cond
	}
	return w + " AND " + cond
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

var eventFilterCols = cols{"target", "country", "asn", "new_methods", "", "new_status", "at"}

// Events implements Store. Filter.Status matches the new status and
// Filter.Method a method among the new ones.
func (s *sqlStore) Events(ctx context.Context, f Filter, p Page) ([]Event, error) {
	w, args := where(f, eventFilterCols)
	l, o := limits(p)
	args = append(args, l, o)
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT id, target, country, asn, kind, old_status, new_status, old_methods, new_methods, at, measure_id, keyword
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
		if err := rs.Scan(&e.ID, &e.Target, &e.Country, &e.ASN, &e.Kind, &e.OldStatus, &e.NewStatus, &om, &nm, &at, &e.MeasureID, &e.Keyword); err != nil {
			return nil, fmt.Errorf("store: events: %w", err)
		}
		e.OldMethods, e.NewMethods, e.At = decodeMethods(om), decodeMethods(nm), fromNanos(at)
		out = append(out, e)
	}
	return out, rs.Err()
}
