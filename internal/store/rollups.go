package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/firewatch/firewatch/internal/model"
)

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
