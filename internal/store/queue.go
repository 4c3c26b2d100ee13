package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/firewatch/firewatch/internal/model"
)

// DefaultLease is how long an agent holds a queue item when Dequeue is given
// no lease.
const DefaultLease = 2 * time.Minute

const queueCols = `id, target, requested_by, requested_at, taken_by, taken_at, lease_until, takes, done_at, measure_id`

// Enqueue implements Store.
func (s *sqlStore) Enqueue(ctx context.Context, target, requestedBy string) (QueueItem, error) {
	it := QueueItem{Target: NormalizeTarget(target), RequestedBy: requestedBy, RequestedAt: s.now().UTC(), State: QueueWaiting}
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

// Dequeue implements Store: it leases up to n of the oldest open items (never
// taken, or taken with their lease over) to agent and returns them.
func (s *sqlStore) Dequeue(ctx context.Context, agent string, n int, lease time.Duration) ([]QueueItem, error) {
	if n <= 0 {
		n = 1
	}
	if lease <= 0 {
		lease = DefaultLease
	}
	if agent == "" {
		return nil, errors.New("store: dequeue: empty agent name")
	}
	lockRows := ""
	if s.pg {
		lockRows = " FOR UPDATE SKIP LOCKED"
	}
	now := s.now()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	rs, err := s.db.QueryContext(ctx, s.q(`UPDATE queue SET taken_by = ?, taken_at = ?, lease_until = ?, takes = takes + 1
		WHERE id IN (SELECT id FROM queue WHERE done_at IS NULL AND (taken_by = '' OR lease_until <= ?) ORDER BY id LIMIT ?`+lockRows+`)
		RETURNING `+queueCols), agent, nanos(now), nanos(now.Add(lease)), nanos(now), n)
	if err != nil {
		return nil, fmt.Errorf("store: dequeue: %w", err)
	}
	out, err := s.scanQueue(rs, now)
	if err != nil {
		return nil, fmt.Errorf("store: dequeue: %w", err)
	}
	slices.SortFunc(out, func(a, b QueueItem) int { return int(a.ID - b.ID) })
	return out, nil
}

// Queue implements Store.
func (s *sqlStore) Queue(ctx context.Context, p Page) ([]QueueItem, error) {
	l, o := limits(p)
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT `+queueCols+` FROM queue ORDER BY id DESC LIMIT ? OFFSET ?`), l, o)
	if err != nil {
		return nil, fmt.Errorf("store: queue: %w", err)
	}
	out, err := s.scanQueue(rs, s.now())
	if err != nil {
		return nil, fmt.Errorf("store: queue: %w", err)
	}
	return out, nil
}

// scanQueue reads queue rows (queueCols) and closes rs; now decides whether
// a lease is still running.
func (s *sqlStore) scanQueue(rs *sql.Rows, now time.Time) ([]QueueItem, error) {
	defer rs.Close()
	out := []QueueItem{}
	for rs.Next() {
		var it QueueItem
		var requested int64
		var taken, until, done sql.NullInt64
		if err := rs.Scan(&it.ID, &it.Target, &it.RequestedBy, &requested, &it.TakenBy, &taken, &until, &it.Takes, &done, &it.MeasureID); err != nil {
			return nil, err
		}
		it.RequestedAt, it.TakenAt, it.LeaseUntil, it.DoneAt = fromNanos(requested), fromNull(taken), fromNull(until), fromNull(done)
		switch {
		case it.DoneAt != nil:
			it.State = QueueDone
		case it.TakenBy == "":
			it.State = QueueWaiting
		case it.LeaseUntil != nil && it.LeaseUntil.After(now):
			it.State = QueueLeased
		default:
			it.State = QueueExpired
		}
		out = append(out, it)
	}
	return out, rs.Err()
}

// completeQueue marks done the open, handed-out queue items of which ms (newly
// stored measurements; control records do not count) hold a measurement taken after
// the request. It runs in Insert's transaction.
func (s *sqlStore) completeQueue(ctx context.Context, tx *sql.Tx, ms []*model.Measurement) error {
	if len(ms) == 0 {
		return nil
	}
	rs, err := tx.QueryContext(ctx, `SELECT id, target, requested_at FROM queue WHERE done_at IS NULL AND taken_by <> ''`)
	if err != nil {
		return err
	}
	type open struct {
		id        int64
		requested int64
	}
	byTarget := map[string][]open{}
	for rs.Next() {
		var o open
		var target string
		if err := rs.Scan(&o.id, &target, &o.requested); err != nil {
			rs.Close()
			return err
		}
		byTarget[target] = append(byTarget[target], o)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return err
	}
	if len(byTarget) == 0 {
		return nil
	}
	now := nanos(s.now())
	for _, m := range ms {
		if m.Vantage == model.VantageControl {
			continue
		}
		items := byTarget[m.Target]
		rest := items[:0]
		for _, o := range items {
			if nanos(m.StartedAt) < o.requested {
				rest = append(rest, o)
				continue
			}
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE queue SET done_at = ?, measure_id = ? WHERE id = ?`), now, m.ID, o.id); err != nil {
				return err
			}
		}
		byTarget[m.Target] = rest
	}
	return nil
}
