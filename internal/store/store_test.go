package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store/sample"
)

var (
	ctx   = context.Background()
	now   = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	site  = "https://news.example/"
	other = "https://other.example/"
)

func meas(id, target string, at time.Time, status string, methods ...string) *model.Measurement {
	return sample.Measurement(id, target, "CN", 4134, at, status, methods...)
}

func mustInsert(t *testing.T, s Store, ms ...*model.Measurement) int {
	t.Helper()
	n, err := s.Insert(ctx, ms)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFileModes: the database and its WAL hold token hashes and are
// created readable by their owner only.
func TestFileModes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fw.db")
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateToken(ctx, "probe-1"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %o, want 600", filepath.Base(f), m)
		}
	}
}

func TestOpenURLs(t *testing.T) {
	dir := t.TempDir()
	for _, u := range []string{dir + "/a.db", "sqlite://" + dir + "/b.db"} {
		st, err := Open(ctx, u)
		if err != nil {
			t.Fatalf("Open(%q): %v", u, err)
		}
		st.Close()
		// Opening again runs no migration twice.
		st, err = Open(ctx, u)
		if err != nil {
			t.Fatalf("reopen %q: %v", u, err)
		}
		var v int
		st.(*sqlStore).db.QueryRow(`SELECT MAX(version) FROM schema_migrations`).Scan(&v)
		if v != len(migrations) {
			t.Errorf("schema version %d, want %d", v, len(migrations))
		}
		st.Close()
	}
	for _, u := range []string{"", "mysql://x", dir + "/missing/dir/c.db"} {
		if _, err := Open(ctx, u); err == nil {
			t.Errorf("Open(%q): no error", u)
		}
	}
}

func TestInsertIdempotent(t *testing.T) {
	forEach(t, func(t *testing.T, s *sqlStore) {
		fixedNow(s, now)
		a := meas("a", "HTTPS://News.Example:443/", now.Add(-time.Hour), model.StatusOK)
		b := meas("b", site, now.Add(-time.Minute), model.StatusOK)
		if n := mustInsert(t, s, a, b, a); n != 2 {
			t.Fatalf("inserted %d, want 2", n)
		}
		if n := mustInsert(t, s, a, b, meas("c", site, now, model.StatusOK)); n != 1 {
			t.Fatalf("second insert: inserted %d, want 1", n)
		}
		got, err := s.Measurement(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		if got.Target != site {
			t.Errorf("target %q, want normalized %q", got.Target, site)
		}
		want := *a
		want.Target = site
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(&want)
		if string(gj) != string(wj) {
			t.Errorf("round trip differs:\n got %s\nwant %s", gj, wj)
		}
		if _, err := s.Measurement(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown id: err %v, want ErrNotFound", err)
		}
		ts, err := s.TargetStates(ctx, site)
		if err != nil || len(ts) != 1 || ts[0].Tests != 3 {
			t.Fatalf("states %+v, %v; want one state with 3 tests", ts, err)
		}
	})
}

// TestHistoryConfirmation: a single glitch changes neither the state nor the
// events; two agreeing measurements (or a verdict with ≥2 agreeing tries) do,
// and create exactly one event.
func TestHistoryConfirmation(t *testing.T) {
	type step struct {
		status  string
		methods []string
		agreed  int
	}
	ok := step{status: model.StatusOK}
	blk := func(ms ...string) step { return step{status: model.StatusBlocked, methods: ms} }
	retested := func(s step) step { s.agreed = 2; return s }
	for _, tc := range []struct {
		name        string
		steps       []step
		wantStatus  string
		wantMethods []string
		wantEvents  []string // kinds, oldest first
	}{
		{"single ok is unconfirmed", []step{ok}, StatusUnconfirmed, []string{}, nil},
		{"two ok confirm without event", []step{ok, ok}, model.StatusOK, []string{}, nil},
		{"glitch does not flip", []step{ok, ok, blk("tcp.reset"), ok}, model.StatusOK, []string{}, nil},
		{"two blocked confirm once", []step{ok, ok, blk("tcp.reset"), blk("tcp.reset"), blk("tcp.reset")}, model.StatusBlocked, []string{"tcp.reset"}, []string{EventBlocked}},
		{"retested verdict confirms alone", []step{ok, ok, retested(blk("dns.injected"))}, model.StatusBlocked, []string{"dns.injected"}, []string{EventBlocked}},
		{"first ever blocked twice", []step{blk("dns.nxdomain"), blk("dns.nxdomain")}, model.StatusBlocked, []string{"dns.nxdomain"}, []string{EventBlocked}},
		{"unblocked", []step{blk("tcp.reset"), blk("tcp.reset"), ok, ok}, model.StatusOK, []string{}, []string{EventBlocked, EventUnblocked}},
		{"unblock glitch", []step{blk("tcp.reset"), blk("tcp.reset"), ok, blk("tcp.reset")}, model.StatusBlocked, []string{"tcp.reset"}, []string{EventBlocked}},
		{"methods changed", []step{blk("tcp.reset"), blk("tcp.reset"), blk("tls.mitm"), blk("tls.mitm")}, model.StatusBlocked, []string{"tls.mitm"}, []string{EventBlocked, EventMethodsChanged}},
		{"errors are ignored", []step{blk("tcp.reset"), {status: model.StatusError}, {status: model.StatusDown}, blk("tcp.reset")}, model.StatusBlocked, []string{"tcp.reset"}, []string{EventBlocked}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, s *sqlStore) {
				fixedNow(s, now)
				// One measurement per insert, and again all in one batch
				// on another target: both must give the same history.
				var batch []*model.Measurement
				for i, st := range tc.steps {
					at := now.Add(time.Duration(i-len(tc.steps)) * time.Hour)
					m := meas(fmt.Sprint("m", i), site, at, st.status, st.methods...)
					b := meas(fmt.Sprint("b", i), other, at, st.status, st.methods...)
					if st.agreed > 0 {
						m.Verdict.Confidence = &model.Confidence{Agreed: st.agreed, Tries: st.agreed}
						b.Verdict.Confidence = m.Verdict.Confidence
					}
					mustInsert(t, s, m)
					batch = append(batch, b)
				}
				mustInsert(t, s, batch...)
				for _, target := range []string{site, other} {
					ts, err := s.TargetStates(ctx, target)
					if err != nil || len(ts) != 1 {
						t.Fatalf("%s: states %v, %v", target, ts, err)
					}
					if ts[0].Status != tc.wantStatus || !reflect.DeepEqual(ts[0].Methods, tc.wantMethods) {
						t.Errorf("%s: got %s %v, want %s %v", target, ts[0].Status, ts[0].Methods, tc.wantStatus, tc.wantMethods)
					}
					if tc.wantStatus == model.StatusBlocked && ts[0].BlockedSince == nil {
						t.Errorf("%s: blocked without BlockedSince", target)
					}
					evs, err := s.Events(ctx, Filter{Target: target}, Page{})
					if err != nil {
						t.Fatal(err)
					}
					var kinds []string
					for i := len(evs) - 1; i >= 0; i-- {
						kinds = append(kinds, evs[i].Kind)
					}
					if !reflect.DeepEqual(kinds, tc.wantEvents) {
						t.Errorf("%s: events %v, want %v", target, kinds, tc.wantEvents)
					}
				}
			})
		})
	}
}

func TestSharesTimelineOverview(t *testing.T) {
	forEach(t, func(t *testing.T, s *sqlStore) {
		fixedNow(s, now)
		var ms []*model.Measurement
		// site: 10 tests in the window, 4 blocked (1 of them throttled);
		// plus 5 old tests outside the 30 days.
		for i := 0; i < 10; i++ {
			at := now.Add(-time.Duration(i) * 24 * time.Hour)
			switch {
			case i < 3:
				ms = append(ms, meas(fmt.Sprint("s", i), site, at, model.StatusBlocked, "tcp.reset"))
			case i == 3:
				ms = append(ms, meas(fmt.Sprint("s", i), site, at, model.StatusBlocked, "throttled"))
			default:
				ms = append(ms, meas(fmt.Sprint("s", i), site, at, model.StatusOK))
			}
		}
		for i := 0; i < 5; i++ {
			ms = append(ms, meas(fmt.Sprint("old", i), site, now.Add(-time.Duration(40+i)*24*time.Hour), model.StatusBlocked, "dns.injected"))
		}
		ms = append(ms, sample.Measurement("ru1", other, "RU", 12389, now.Add(-time.Hour), model.StatusOK))
		mustInsert(t, s, ms...)
		ts, err := s.TargetStates(ctx, site)
		if err != nil || len(ts) != 1 {
			t.Fatalf("states %v %v", ts, err)
		}
		st := ts[0]
		if st.Tests != 15 || st.Tests30d != 10 || st.Blocked30d != 0.4 || st.Throttled30d != 0.1 {
			t.Errorf("got tests %d, 30d %d, blocked %.2f, throttled %.2f; want 15, 10, 0.40, 0.10", st.Tests, st.Tests30d, st.Blocked30d, st.Throttled30d)
		}
		if st.Status != model.StatusBlocked || !reflect.DeepEqual(st.Methods, []string{"tcp.reset"}) {
			t.Errorf("state %s %v, want blocked [tcp.reset]", st.Status, st.Methods)
		}
		if st.LastMeasureID != "s0" || !st.LastTested.Equal(now) {
			t.Errorf("last %s at %v, want s0 at %v", st.LastMeasureID, st.LastTested, now)
		}
		tl, err := s.Timeline(ctx, site, 30)
		if err != nil || len(tl) != 30 {
			t.Fatalf("timeline len %d, %v", len(tl), err)
		}
		last := tl[29]
		if !last.Day.Equal(now.Truncate(24*time.Hour)) || last.Tests != 1 || last.Blocked != 1 || last.Targets != 1 {
			t.Errorf("today %+v", last)
		}
		ov, err := s.Overview(ctx, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if ov.Measurements != 16 || ov.Targets != 2 || ov.BlockedTargets != 1 || ov.ByMethod["tcp.reset"] != 1 || len(ov.Timeline) != 30 {
			t.Errorf("overview %+v", ov)
		}
		sum := 0
		for _, d := range ov.Timeline {
			sum += d.Tests
		}
		if sum != 11 {
			t.Errorf("overview timeline tests %d, want 11", sum)
		}
		ovRU, err := s.Overview(ctx, Filter{Country: "ru"})
		if err != nil || ovRU.Measurements != 1 || ovRU.Targets != 1 || ovRU.BlockedTargets != 0 || ovRU.Timeline[29].Tests != 1 {
			t.Errorf("RU overview %+v, %v", ovRU, err)
		}
		ovCN, err := s.Overview(ctx, Filter{Country: "CN", ASN: 4134})
		if err != nil || ovCN.Measurements != 15 || ovCN.BlockedTargets != 1 || ovCN.Timeline[29].Targets != 1 || ovCN.Timeline[28].Blocked != 1 {
			t.Errorf("CN overview %+v, %v", ovCN, err)
		}
		list, err := s.Targets(ctx, Filter{Status: model.StatusBlocked}, Page{})
		if err != nil || len(list) != 1 || list[0].Target != site || list[0].Tests30d != 10 {
			t.Errorf("blocked targets %+v, %v", list, err)
		}
		list, err = s.Targets(ctx, Filter{Query: "OTHER"}, Page{})
		if err != nil || len(list) != 1 || list[0].Country != "RU" {
			t.Errorf("query targets %+v, %v", list, err)
		}
	})
}

func TestMeasurementsPagination(t *testing.T) {
	forEach(t, func(t *testing.T, s *sqlStore) {
		var ms []*model.Measurement
		for i := 0; i < 25; i++ {
			status, methods := model.StatusOK, []string(nil)
			if i%5 == 0 {
				status, methods = model.StatusBlocked, []string{"tls.mitm", "dns.injected"}
			}
			ms = append(ms, meas(fmt.Sprintf("m%02d", i), site, now.Add(time.Duration(i)*time.Minute), status, methods...))
		}
		mustInsert(t, s, ms...)
		var all []string
		for off := 0; ; off += 10 {
			rows, err := s.Measurements(ctx, Filter{}, Page{Limit: 10, Offset: off})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				all = append(all, r.ID)
			}
			if len(rows) < 10 {
				break
			}
		}
		if len(all) != 25 || all[0] != "m24" || all[24] != "m00" {
			t.Errorf("pages gave %d rows, first %v", len(all), all[:min(3, len(all))])
		}
		rows, err := s.Measurements(ctx, Filter{Method: "dns.injected", Target: site}, Page{})
		if err != nil || len(rows) != 5 || !reflect.DeepEqual(rows[0].Methods, []string{"dns.injected", "tls.mitm"}) {
			t.Errorf("by method: %d rows %+v, %v", len(rows), rows, err)
		}
		rows, err = s.Measurements(ctx, Filter{Method: "dns"}, Page{})
		if err != nil || len(rows) != 0 {
			t.Errorf("partial method name matched %d rows", len(rows))
		}
		rows, err = s.Measurements(ctx, Filter{Since: now.Add(20 * time.Minute)}, Page{})
		if err != nil || len(rows) != 5 {
			t.Errorf("since: %d rows, %v", len(rows), err)
		}
		var n int
		err = s.Export(ctx, Filter{Status: model.StatusBlocked}, 0, func(m *model.Measurement) error { n++; return nil })
		if err != nil || n != 5 {
			t.Errorf("export %d, %v", n, err)
		}
	})
}

// TestExportPages: an export longer than a page, with many records of the
// same start time on page boundaries, gives every record once, newest
// first, and stops at its limit.
func TestExportPages(t *testing.T) {
	forEach(t, func(t *testing.T, s *sqlStore) {
		const total = 2*exportPageRows + 100
		var ms []*model.Measurement
		for i := range total {
			at := now.Add(time.Duration(i/300) * time.Minute) // runs of 300 equal times
			ms = append(ms, meas(fmt.Sprintf("m%04d", i), site, at, model.StatusOK))
		}
		mustInsert(t, s, ms...)
		for _, limit := range []int{0, 1, exportPageRows, exportPageRows + 1, total + 5} {
			var got []string
			err := s.Export(ctx, Filter{}, limit, func(m *model.Measurement) error { got = append(got, m.ID); return nil })
			want := min(total, limit)
			if limit == 0 {
				want = total
			}
			if err != nil || len(got) != want {
				t.Fatalf("limit %d: %d records, %v; want %d", limit, len(got), err, want)
			}
			seen := map[string]bool{}
			for i, id := range got {
				if seen[id] {
					t.Fatalf("limit %d: %s exported twice", limit, id)
				}
				seen[id] = true
				if i > 0 && id > got[i-1] {
					t.Fatalf("limit %d: %s after %s, want newest first", limit, id, got[i-1])
				}
			}
		}
		// fn runs with no database connection held: a slow client of an
		// export holds none of the pool.
		inUse := 0
		s.Export(ctx, Filter{}, 0, func(*model.Measurement) error { inUse = max(inUse, s.db.Stats().InUse); return nil })
		if inUse != 0 {
			t.Errorf("%d database connections in use while the export waits on its client, want 0", inUse)
		}
		stop := errors.New("client gone")
		n := 0
		if err := s.Export(ctx, Filter{}, 0, func(*model.Measurement) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
			t.Errorf("export after fn's error: %d records, %v", n, err)
		}
	})
}

func TestTokens(t *testing.T) {
	forEach(t, func(t *testing.T, s *sqlStore) {
		sec, err := s.CreateToken(ctx, "probe-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateToken(ctx, "probe-1"); !errors.Is(err, ErrExists) {
			t.Errorf("duplicate name: %v, want ErrExists", err)
		}
		if name, err := s.Authenticate(ctx, sec); err != nil || name != "probe-1" {
			t.Errorf("Authenticate = %q, %v", name, err)
		}
		if _, err := s.Authenticate(ctx, sec+"x"); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("wrong secret: %v", err)
		}
		var stored string
		s.db.QueryRow(`SELECT hash FROM tokens`).Scan(&stored)
		if stored == sec || len(stored) != 64 {
			t.Errorf("stored %q: want a SHA-256 hex, not the secret", stored)
		}
		if err := s.RevokeToken(ctx, "probe-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, sec); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("revoked: %v", err)
		}
		if err := s.RevokeToken(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown revoke: %v", err)
		}
		list, err := s.ListTokens(ctx)
		if err != nil || len(list) != 1 || list[0].RevokedAt == nil || list[0].LastUsed == nil {
			t.Errorf("list %+v, %v", list, err)
		}
	})
}

func TestQueue(t *testing.T) {
	forEach(t, func(t *testing.T, s *sqlStore) {
		for _, u := range []string{"https://A.example/", "https://b.example/", "https://c.example/"} {
			if _, err := s.Enqueue(ctx, u, "operator"); err != nil {
				t.Fatal(err)
			}
		}
		a, err := s.Dequeue(ctx, "agent-a", 2, time.Minute)
		if err != nil || len(a) != 2 || a[0].Target != "https://a.example/" || a[0].TakenBy != "agent-a" || a[0].State != QueueLeased {
			t.Fatalf("first take %+v, %v", a, err)
		}
		b, err := s.Dequeue(ctx, "agent-b", 2, time.Minute)
		if err != nil || len(b) != 1 || b[0].Target != "https://c.example/" {
			t.Fatalf("second take %+v, %v", b, err)
		}
		c, err := s.Dequeue(ctx, "agent-b", 2, time.Minute)
		if err != nil || len(c) != 0 {
			t.Fatalf("empty take %+v, %v", c, err)
		}
	})
}

// TestQueueLease: an item whose agent died (no measurement within the
// lease) is handed out again, to any agent; an item is done only once a
// probe measurement of its target, taken after the request, is stored.
func TestQueueLease(t *testing.T) {
	forEach(t, func(t *testing.T, s *sqlStore) {
		clock := now
		s.now = func() time.Time { return clock }
		var targets []string
		for i := range 40 {
			u := fmt.Sprintf("https://site%d.example/", i)
			targets = append(targets, u)
			if _, err := s.Enqueue(ctx, u, "operator"); err != nil {
				t.Fatal(err)
			}
		}
		// A measurement taken before the request does not complete it.
		mustInsert(t, s, meas("early", targets[0], clock.Add(-time.Hour), model.StatusOK))
		taken, err := s.Dequeue(ctx, "agent-a", 40, 2*time.Minute)
		if err != nil || len(taken) != 40 {
			t.Fatalf("take: %d items, %v", len(taken), err)
		}
		// agent-a measures two (one of them also from the control vantage)
		// and dies.
		clock = clock.Add(30 * time.Second)
		ctl := meas("c1", targets[1], clock, model.StatusMeasured)
		ctl.Vantage = "control"
		mustInsert(t, s, ctl)
		mustInsert(t, s, meas("m1", targets[1], clock, model.StatusOK), meas("m2", targets[2], clock, model.StatusBlocked, model.MethodDNSInjected))
		if again, _ := s.Dequeue(ctx, "agent-b", 40, 2*time.Minute); len(again) != 0 {
			t.Fatalf("leased items handed out again within the lease: %+v", again)
		}
		clock = clock.Add(2 * time.Minute)
		q, err := s.Queue(ctx, Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		states := map[string]int{}
		for _, it := range q {
			states[it.State]++
		}
		if want := map[string]int{QueueDone: 2, QueueExpired: 38}; !reflect.DeepEqual(states, want) {
			t.Errorf("queue states %v, want %v", states, want)
		}
		// A restarted (or another) agent gets the 38 not measured, and
		// nothing done.
		again, err := s.Dequeue(ctx, "agent-b", 100, 2*time.Minute)
		if err != nil || len(again) != 38 {
			t.Fatalf("after the lease: %d items, %v", len(again), err)
		}
		for _, it := range again {
			if it.Target == targets[1] || it.Target == targets[2] {
				t.Errorf("done item %d (%s) handed out again", it.ID, it.Target)
			}
			if it.Takes != 2 || it.TakenBy != "agent-b" || it.State != QueueLeased {
				t.Errorf("item %d: takes %d, taken by %q, state %s; want 2, agent-b, leased", it.ID, it.Takes, it.TakenBy, it.State)
			}
		}
		q, _ = s.Queue(ctx, Page{Limit: 100})
		for _, it := range q {
			if it.Target == targets[1] && (it.State != QueueDone || it.MeasureID != "m1" || it.DoneAt == nil) {
				t.Errorf("completed item: %+v", it)
			}
		}
		// Measuring a target twice is fine: the duplicate completes nothing new.
		mustInsert(t, s, meas("m1b", targets[1], clock, model.StatusOK))
		for _, it := range again {
			mustInsert(t, s, meas("r"+it.Target, it.Target, clock, model.StatusOK))
		}
		if left, _ := s.Dequeue(ctx, "agent-c", 100, time.Nanosecond); len(left) != 0 {
			t.Errorf("%d items still open after every target was measured", len(left))
		}
	})
}

// TestConcurrentInsert: parallel writers of overlapping batches store every
// measurement once.
func TestConcurrentInsert(t *testing.T) {
	forEach(t, func(t *testing.T, s *sqlStore) {
		errs := make(chan error, 4)
		total := make(chan int, 4)
		for w := 0; w < 4; w++ {
			go func() {
				sum := 0
				for b := 0; b < 5; b++ {
					var ms []*model.Measurement
					for i := 0; i < 20; i++ {
						id := fmt.Sprintf("m%d-%d", b, i) // the same ids from every writer
						ms = append(ms, meas(id, site, now.Add(time.Duration(b*20+i)*time.Second), model.StatusOK))
					}
					n, err := s.Insert(ctx, ms)
					if err != nil {
						errs <- err
						return
					}
					sum += n
				}
				errs <- nil
				total <- sum
			}()
		}
		sum := 0
		for w := 0; w < 4; w++ {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
			sum += <-total
		}
		ts, _ := s.TargetStates(ctx, site)
		if sum != 100 || len(ts) != 1 || ts[0].Tests != 100 {
			t.Errorf("inserted %d, state %+v; want 100", sum, ts)
		}
	})
}

// TestMigrateQueueLeases: items taken before queue leases existed (and so
// possibly lost with a crashed agent) are handed out again after the
// upgrade; untaken items are kept as they were.
func TestMigrateQueueLeases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	all := migrations
	migrations = all[:3]
	st, err := Open(ctx, path)
	migrations = all
	if err != nil {
		t.Fatal(err)
	}
	db := st.(*sqlStore).db
	for _, q := range []string{
		`INSERT INTO queue (target, requested_by, requested_at, taken_by, taken_at) VALUES ('https://a.example/', 'operator', 1, 'agent-dead', 2)`,
		`INSERT INTO queue (target, requested_by, requested_at) VALUES ('https://b.example/', 'operator', 3)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	st, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	items, err := st.Dequeue(ctx, "agent-new", 10, time.Minute)
	if err != nil || len(items) != 2 || items[0].Takes != 2 || items[1].Takes != 1 {
		t.Errorf("after the upgrade: %+v, %v; want both items, the old one taken a second time", items, err)
	}
}
