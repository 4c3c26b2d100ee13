// Package storetest opens real stores for tests of the collector — the
// embedded SQLite in a test's temporary directory, so that handlers are
// tested against the history semantics they serve — and provides sample
// measurements to seed them.
package storetest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/store"
)

// New opens an empty SQLite store in t's temporary directory, with the
// clock now (time.Now when nil). It is closed when t ends.
func New(t testing.TB, now func() time.Time) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "firewatch.db"), store.WithClock(now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Seeded opens a store as New does and stores Sample(now) in it.
func Seeded(t testing.TB, now time.Time) store.Store {
	t.Helper()
	st := New(t, func() time.Time { return now })
	if _, err := st.Insert(context.Background(), Sample(now)); err != nil {
		t.Fatal(err)
	}
	return st
}
