package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store/sample"
)

// BenchmarkInsert measures ingest into each backend: batches of 500
// realistic records (~3 KB of JSON each) over 1,000 targets × 5 networks.
func BenchmarkInsert(b *testing.B) {
	const batch = 500
	countries := []string{"CN", "IR", "RU", "TR", "MM"}
	for _, be := range backends(b) {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b)
			base := time.Now().Add(-24 * time.Hour)
			seq := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				ms := make([]*model.Measurement, batch)
				for j := range ms {
					seq++
					status, methods := model.StatusOK, []string(nil)
					if seq%7 == 0 {
						status, methods = model.StatusBlocked, []string{model.MethodTCPReset}
					}
					ms[j] = sample.Measurement(fmt.Sprintf("bench-%d", seq), fmt.Sprintf("https://site%d.example/", seq%1000),
						countries[seq%5], 64500+seq%5, base.Add(time.Duration(seq)*time.Millisecond), status, methods...)
				}
				b.StartTimer()
				if n, err := s.Insert(context.Background(), ms); err != nil || n != batch {
					b.Fatalf("inserted %d, %v", n, err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

const (
	bigN       = 1_000_000
	bigTargets = 2000
	bigNets    = 5
)

// bigStore opens a store holding 1,000,000 generated measurements (2,000
// targets × 5 networks × 100 days) with its rollups, seeding it on first use
// and reusing it afterwards (a file in the temp dir, or the schema
// fwbench_big). Gated by FIREWATCH_BIG_BENCH=1.
func bigStore(b *testing.B, backend string) *sqlStore {
	b.Helper()
	if os.Getenv("FIREWATCH_BIG_BENCH") != "1" {
		b.Skip("set FIREWATCH_BIG_BENCH=1 to run the 1,000,000-measurement benchmarks (seeding takes minutes)")
	}
	ctx := context.Background()
	var u string
	switch backend {
	case "sqlite":
		u = filepath.Join(os.TempDir(), "firewatch-bigbench.db")
	case "postgres":
		base := os.Getenv("FIREWATCH_PG_URL")
		admin, err := sql.Open("pgx", base)
		if err != nil {
			b.Fatal(err)
		}
		admin.Exec(`CREATE SCHEMA IF NOT EXISTS fwbench_big`)
		admin.Close()
		pu, _ := url.Parse(base)
		q := pu.Query()
		q.Set("search_path", "fwbench_big")
		pu.RawQuery = q.Encode()
		u = pu.String()
	}
	st, err := Open(ctx, u)
	if err != nil {
		b.Fatal(err)
	}
	s := st.(*sqlStore)
	b.Cleanup(func() { s.Close() })
	var n int
	s.db.QueryRow(`SELECT COUNT(*) FROM target_state`).Scan(&n)
	if n == bigTargets*bigNets {
		return s
	}
	start := time.Now()
	if err := seedBig(ctx, s); err != nil {
		b.Fatalf("seed: %v", err)
	}
	b.Logf("%s: seeded %d measurements in %v", backend, bigN, time.Since(start).Round(time.Second))
	return s
}

// seedBig fills the tables with generated rows in one transaction, then
// derives the rollups and states with aggregate queries (what Insert would
// have maintained incrementally).
func seedBig(ctx context.Context, s *sqlStore) error {
	for _, t := range []string{"measurements", "target_state", "daily", "day_target", "day_total", "day_network", "events"} {
		if _, err := s.db.Exec(`DELETE FROM ` + t); err != nil {
			return err
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	gen := `WITH RECURSIVE gen(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM gen WHERE x < ?) SELECT x FROM gen`
	if s.pg {
		gen = `SELECT x::bigint AS x FROM generate_series(0, ?::int) AS x`
	}
	base := dayOf(time.Now()) - 99*dayNanos
	// t = x % 2000 is the target, (x % 10000) / 2000 the network, x / 10000 the day.
	stmts := []string{
		`INSERT INTO measurements (id, target, category, country, asn, started_at, status, methods, vantage, received_at, body)
		SELECT 'm' || x, 'https://site' || (x % 2000) || '.example/', 'NEWS',
			CASE (x % 10000) / 2000 WHEN 0 THEN 'CN' WHEN 1 THEN 'IR' WHEN 2 THEN 'RU' WHEN 3 THEN 'TR' ELSE 'MM' END,
			64500 + (x % 10000) / 2000,
			? + (x / 10000) * 86400000000000 + (((x % 10000) * 7919) % 86400) * 1000000000,
			CASE WHEN (x % 2000) % 5 = 0 OR (x % 2000) % 20 = 3 THEN 'blocked' ELSE 'ok' END,
			CASE WHEN (x % 2000) % 10 = 0 THEN ',dns.injected,' WHEN (x % 2000) % 10 = 5 THEN ',tcp.reset,' WHEN (x % 2000) % 20 = 3 THEN ',throttled,' ELSE '' END,
			'probe', ?, '{"schema":"firewatch.measurement/1","id":"m' || x || '","status":"ok"}'
		FROM (` + gen + `) AS g`,
		`INSERT INTO daily (target, country, asn, day, category, tests, blocked, throttled)
		SELECT target, country, asn, (started_at / 86400000000000) * 86400000000000, MAX(category), COUNT(*),
			SUM(CASE WHEN status = 'blocked' THEN 1 ELSE 0 END), SUM(CASE WHEN methods LIKE '%,throttled,%' THEN 1 ELSE 0 END)
		FROM measurements GROUP BY target, country, asn, (started_at / 86400000000000) * 86400000000000`,
		`INSERT INTO day_target (target, day, tests, blocked) SELECT target, day, SUM(tests), SUM(blocked) FROM daily GROUP BY target, day`,
		`INSERT INTO day_total (day, tests, blocked, blocked_targets)
		SELECT day, SUM(tests), SUM(blocked), SUM(CASE WHEN blocked > 0 THEN 1 ELSE 0 END) FROM day_target GROUP BY day`,
		`INSERT INTO day_network (country, asn, day, tests, blocked, blocked_targets)
		SELECT country, asn, day, SUM(tests), SUM(blocked), SUM(CASE WHEN blocked > 0 THEN 1 ELSE 0 END) FROM daily GROUP BY country, asn, day`,
		`INSERT INTO target_state (` + stateCols + `)
		SELECT target, country, asn, MAX(category), MAX(status), MAX(methods),
			CASE WHEN MAX(status) = 'blocked' THEN MIN(started_at) END, MIN(started_at), MAX(started_at), COUNT(*), MAX(id),
			MAX(status), MAX(methods), MIN(started_at), MAX(started_at)
		FROM measurements GROUP BY target, country, asn`,
		`INSERT INTO events (target, country, asn, kind, old_status, new_status, old_methods, new_methods, at, measure_id)
		SELECT target, country, asn, 'blocked', 'unconfirmed', 'blocked', '', methods, blocked_since, last_id FROM target_state WHERE status = 'blocked'`,
	}
	if _, err := tx.ExecContext(ctx, s.q(stmts[0]), base, base, bigN-1); err != nil {
		return fmt.Errorf("measurements: %w", err)
	}
	for _, q := range stmts[1:] {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%.60s: %w", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `ANALYZE`)
	return err
}

// latency runs op b.N times and reports its 95th percentile.
func latency(b *testing.B, op func(i int) error) {
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := time.Now()
		if err := op(i); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(t))
	}
	b.StopTimer()
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)*95/100].Microseconds())/1000, "p95-ms")
}

func bigBackends() []string {
	if os.Getenv("FIREWATCH_PG_URL") != "" {
		return []string{"sqlite", "postgres"}
	}
	return []string{"sqlite"}
}

// BenchmarkOverview measures the reads of the dashboard's front page (the
// overview figures, the first page of targets and of events) with 1,000,000
// measurements stored, unfiltered and filtered by country.
func BenchmarkOverview(b *testing.B) {
	ctx := context.Background()
	for _, be := range bigBackends() {
		for _, f := range []struct {
			name string
			f    Filter
		}{{"all", Filter{}}, {"country", Filter{Country: "IR"}}} {
			b.Run(be+"/"+f.name, func(b *testing.B) {
				s := bigStore(b, be)
				latency(b, func(int) error {
					ov, err := s.Overview(ctx, f.f)
					if err != nil {
						return err
					}
					if ov.Measurements == 0 {
						return fmt.Errorf("empty overview")
					}
					if _, err := s.Targets(ctx, f.f, Page{Limit: 50}); err != nil {
						return err
					}
					_, err = s.Events(ctx, f.f, Page{Limit: 20})
					return err
				})
			})
		}
	}
}

// BenchmarkTargetPage measures the reads of a target page (its states in
// every network, a 90-day timeline, the latest measurements and events, one
// whole measurement) with 1,000,000 measurements stored.
func BenchmarkTargetPage(b *testing.B) {
	ctx := context.Background()
	for _, be := range bigBackends() {
		b.Run(be, func(b *testing.B) {
			s := bigStore(b, be)
			r := rand.New(rand.NewPCG(1, 2))
			latency(b, func(int) error {
				target := fmt.Sprintf("https://site%d.example/", r.IntN(bigTargets))
				ts, err := s.TargetStates(ctx, target)
				if err != nil || len(ts) != bigNets {
					return fmt.Errorf("states %d, %v", len(ts), err)
				}
				if _, err := s.Timeline(ctx, target, 90); err != nil {
					return err
				}
				rows, err := s.Measurements(ctx, Filter{Target: target}, Page{Limit: 20})
				if err != nil || len(rows) == 0 {
					return fmt.Errorf("measurements %d, %v", len(rows), err)
				}
				if _, err := s.Events(ctx, Filter{Target: target}, Page{Limit: 20}); err != nil {
					return err
				}
				_, err = s.Measurement(ctx, rows[0].ID)
				return err
			})
		})
	}
}
