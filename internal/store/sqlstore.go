package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	defaultLimit = 50
	maxLimit     = 1000
	insertChunk  = 200 // rows per multi-row INSERT
	dayNanos     = int64(24 * time.Hour)
)

// sqlStore implements Store on database/sql for SQLite and PostgreSQL; the
// SQL is common, with "?" placeholders rewritten for PostgreSQL. Its methods
// are split by concern: insert.go (ingest and the history fold), rollups.go
// (daily rollups, timelines, overview), queries.go (lists and export),
// tokens.go and queue.go.
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
