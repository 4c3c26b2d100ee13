package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// ErrExists is returned when a named row (a token) already exists.
var ErrExists = errors.New("already exists")

// ErrUnauthorized is returned by Authenticate for an unknown or revoked
// secret. It wraps ErrNotFound.
var ErrUnauthorized = fmt.Errorf("invalid or revoked token: %w", ErrNotFound)

// StatusUnconfirmed is TargetState.Status until a first status is confirmed
// (by a retested verdict or by two consecutive agreeing measurements).
const StatusUnconfirmed = "unconfirmed"

// Option configures a store at Open.
type Option func(*options)

type options struct {
	now func() time.Time
}

// WithClock makes the store read the time from now (the 30-day windows,
// received and lease times); time.Now by default. Tests pin it.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// Open opens (creating if needed) the store named by url and runs the schema
// migrations. url is a PostgreSQL URL ("postgres://..." or
// "postgresql://..."), "sqlite://PATH", or a plain file path for SQLite.
func Open(ctx context.Context, url string, opts ...Option) (Store, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return openPostgres(ctx, url, o)
	case strings.HasPrefix(url, "sqlite://"):
		return openSQLite(ctx, strings.TrimPrefix(url, "sqlite://"), o)
	case strings.Contains(url, "://"):
		return nil, fmt.Errorf("store: unsupported database URL scheme in %q (want a file path, sqlite://PATH or postgres://...)", url)
	case url == "":
		return nil, errors.New("store: empty database URL")
	default:
		return openSQLite(ctx, url, o)
	}
}

func openSQLite(ctx context.Context, path string, o options) (Store, error) {
	if path == "" {
		return nil, errors.New("store: empty SQLite path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("store: SQLite directory: %w", err)
		}
	}
	// The database holds token hashes: create it readable by its owner only.
	// SQLite gives the -wal and -shm files the mode of the database file.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("store: create SQLite %s: %w", path, err)
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)&_pragma=cache_size(-65536)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open SQLite %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &sqlStore{db: db, pg: false, now: o.now}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: SQLite %s: %w", path, err)
	}
	return s, nil
}

func openPostgres(ctx context.Context, url string, o options) (Store, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("store: open PostgreSQL: %w", err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect PostgreSQL: %w", err)
	}
	s := &sqlStore{db: db, pg: true, now: o.now}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: PostgreSQL: %w", err)
	}
	return s, nil
}
