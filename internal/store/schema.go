package store

import (
	"context"
	"fmt"
	"strings"
)

// migrations are the schema versions, applied in order once each and
// recorded in schema_migrations. "{{serial}}" becomes the backend's
// auto-increment primary key. Times are Unix nanoseconds (BIGINT), methods are
// stored as ",m1,m2," so that a LIKE '%,m,%' matches one method exactly.
var migrations = []string{
	// 1: initial schema.
	`CREATE TABLE measurements (
		id TEXT PRIMARY KEY,
		target TEXT NOT NULL,
		category TEXT NOT NULL DEFAULT '',
		country TEXT NOT NULL DEFAULT '',
		asn BIGINT NOT NULL DEFAULT 0,
		started_at BIGINT NOT NULL,
		status TEXT NOT NULL,
		methods TEXT NOT NULL DEFAULT '',
		vantage TEXT NOT NULL DEFAULT '',
		received_at BIGINT NOT NULL,
		body TEXT NOT NULL
	);
	CREATE INDEX measurements_started ON measurements (started_at);
	CREATE INDEX measurements_target ON measurements (target, started_at);
	CREATE TABLE target_state (
		target TEXT NOT NULL,
		country TEXT NOT NULL,
		asn BIGINT NOT NULL,
		category TEXT NOT NULL DEFAULT '',
		status TEXT NOT NULL,
		methods TEXT NOT NULL DEFAULT '',
		blocked_since BIGINT,
		last_change BIGINT,
		last_tested BIGINT NOT NULL,
		tests BIGINT NOT NULL,
		last_id TEXT NOT NULL,
		pend_status TEXT NOT NULL DEFAULT '',
		pend_methods TEXT NOT NULL DEFAULT '',
		pend_since BIGINT NOT NULL DEFAULT 0,
		last_decisive BIGINT NOT NULL DEFAULT 0,
		PRIMARY KEY (target, country, asn)
	);
	CREATE INDEX target_state_status ON target_state (status, target);
	CREATE TABLE daily (
		target TEXT NOT NULL,
		country TEXT NOT NULL,
		asn BIGINT NOT NULL,
		day BIGINT NOT NULL,
		category TEXT NOT NULL DEFAULT '',
		tests BIGINT NOT NULL,
		blocked BIGINT NOT NULL,
		throttled BIGINT NOT NULL,
		PRIMARY KEY (target, country, asn, day)
	);
	CREATE INDEX daily_day ON daily (day);
	CREATE TABLE day_target (
		target TEXT NOT NULL,
		day BIGINT NOT NULL,
		tests BIGINT NOT NULL,
		blocked BIGINT NOT NULL,
		PRIMARY KEY (target, day)
	);
	CREATE TABLE day_total (
		day BIGINT PRIMARY KEY,
		tests BIGINT NOT NULL,
		blocked BIGINT NOT NULL,
		blocked_targets BIGINT NOT NULL
	);
	CREATE TABLE events (
		id {{serial}},
		target TEXT NOT NULL,
		country TEXT NOT NULL,
		asn BIGINT NOT NULL,
		kind TEXT NOT NULL,
		old_status TEXT NOT NULL,
		new_status TEXT NOT NULL,
		old_methods TEXT NOT NULL,
		new_methods TEXT NOT NULL,
		at BIGINT NOT NULL,
		measure_id TEXT NOT NULL
	);
	CREATE INDEX events_at ON events (at);
	CREATE INDEX events_target ON events (target, at);
	CREATE TABLE tokens (
		name TEXT PRIMARY KEY,
		hash TEXT NOT NULL UNIQUE,
		created_at BIGINT NOT NULL,
		revoked_at BIGINT,
		last_used BIGINT
	);
	CREATE TABLE queue (
		id {{serial}},
		target TEXT NOT NULL,
		requested_by TEXT NOT NULL,
		requested_at BIGINT NOT NULL,
		taken_by TEXT NOT NULL DEFAULT '',
		taken_at BIGINT
	);
	CREATE INDEX queue_untaken ON queue (taken_by, id)`,
	// 2: the overview filtered by network reads one network's days.
	`CREATE INDEX daily_country_day ON daily (country, day)`,
	// 3: per-network daily totals for the overview filtered by country/ASN.
	`CREATE TABLE day_network (
		country TEXT NOT NULL,
		asn BIGINT NOT NULL,
		day BIGINT NOT NULL,
		tests BIGINT NOT NULL,
		blocked BIGINT NOT NULL,
		blocked_targets BIGINT NOT NULL,
		PRIMARY KEY (country, asn, day)
	);
	INSERT INTO day_network (country, asn, day, tests, blocked, blocked_targets)
		SELECT country, asn, day, SUM(tests), SUM(blocked), SUM(CASE WHEN blocked > 0 THEN 1 ELSE 0 END)
		FROM daily GROUP BY country, asn, day`,
	// 4: queue leases. An item is handed out for a lease and done only when
	// a measurement of it is stored; items taken before leases existed are
	// handed out again.
	`ALTER TABLE queue ADD COLUMN lease_until BIGINT;
	ALTER TABLE queue ADD COLUMN takes BIGINT NOT NULL DEFAULT 0;
	ALTER TABLE queue ADD COLUMN done_at BIGINT;
	ALTER TABLE queue ADD COLUMN measure_id TEXT NOT NULL DEFAULT '';
	UPDATE queue SET takes = 1, lease_until = 0 WHERE taken_by <> '';
	CREATE INDEX queue_open ON queue (done_at, id)`,
	// 5: the DNS filter's history (dns.go).
	dnsSchema,
	// 6: per-keyword history of word lists (firewatch keywords test), and
	// the word an event is about.
	`CREATE TABLE keyword_state (
		target TEXT NOT NULL,
		word TEXT NOT NULL,
		country TEXT NOT NULL,
		asn BIGINT NOT NULL,
		status TEXT NOT NULL,
		methods TEXT NOT NULL DEFAULT '',
		since BIGINT NOT NULL,
		last_tested BIGINT NOT NULL,
		tests BIGINT NOT NULL,
		blocked_tests BIGINT NOT NULL,
		last_id TEXT NOT NULL,
		PRIMARY KEY (target, word, country, asn)
	);
	ALTER TABLE events ADD COLUMN keyword TEXT NOT NULL DEFAULT ''`,
}

// migrate applies the migrations not yet recorded in schema_migrations.
func (s *sqlStore) migrate(ctx context.Context) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := s.lock(ctx, tx); err != nil {
		return err
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this firewatch (%d)", have, len(migrations))
	}
	serial := "INTEGER PRIMARY KEY AUTOINCREMENT"
	if s.pg {
		serial = "BIGSERIAL PRIMARY KEY"
	}
	for v := have + 1; v <= len(migrations); v++ {
		for _, stmt := range strings.Split(migrations[v-1], ";\n") {
			stmt = strings.ReplaceAll(strings.TrimSpace(stmt), "{{serial}}", serial)
			if stmt == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`),
			v, s.now().UnixNano()); err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
	}
	return tx.Commit()
}
