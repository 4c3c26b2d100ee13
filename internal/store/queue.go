package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

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
