package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// backend opens a fresh, empty store of one kind for a test.
type backend struct {
	name string
	open func(t testing.TB) *sqlStore
}

// backends returns SQLite always and PostgreSQL when FIREWATCH_PG_URL is set.
func backends(t testing.TB) []backend {
	bs := []backend{{"sqlite", openTestSQLite}}
	if os.Getenv("FIREWATCH_PG_URL") != "" {
		bs = append(bs, backend{"postgres", openTestPostgres})
	} else {
		t.Log("PostgreSQL backend skipped: set FIREWATCH_PG_URL (see .ci/postgres.sh)")
	}
	return bs
}

func openTestSQLite(t testing.TB) *sqlStore {
	t.Helper()
	st, err := Open(context.Background(), filepath.Join(t.TempDir(), "fw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.(*sqlStore)
}

// openTestPostgres creates a schema of its own in the FIREWATCH_PG_URL
// database so that tests can run in parallel, and drops it afterwards.
func openTestPostgres(t testing.TB) *sqlStore {
	t.Helper()
	base := os.Getenv("FIREWATCH_PG_URL")
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	b := make([]byte, 6)
	rand.Read(b)
	schema := "fwtest_" + hex.EncodeToString(b)
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() { admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	st, err := Open(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.(*sqlStore)
}

// forEach runs fn as a parallel subtest against every backend.
func forEach(t *testing.T, fn func(t *testing.T, s *sqlStore)) {
	t.Helper()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b.open(t))
		})
	}
}

// fixedNow pins the store's clock.
func fixedNow(s *sqlStore, now time.Time) { s.now = func() time.Time { return now } }

// TestPostgresEnabled says, in the test output, whether the suite also ran
// against PostgreSQL.
func TestPostgresEnabled(t *testing.T) {
	if os.Getenv("FIREWATCH_PG_URL") == "" {
		t.Skip("PostgreSQL backend skipped: set FIREWATCH_PG_URL, e.g. eval \"$(.ci/postgres.sh)\"")
	}
}
