package chaos

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/store"
)

// Sizes of the agent test.
const (
	queueItems = 40
	agentKills = 5
	queueLease = 2 * time.Second
)

// TestChaosAgent queues 40 "test now" targets, runs `firewatch agent`
// against a collector with a short --queue-lease, kills the agent with
// SIGKILL 5 times at random moments (restarting it each time), and checks
// that every queued item ends measured and done: an item a dead agent took
// is handed out again when its lease runs out.
func TestChaosAgent(t *testing.T) {
	skipUnlessChaos(t)
	bin := firewatchBinary(t)
	r := chaosRand(t)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond) // a measurement takes a while: kills land mid-item
		io.WriteString(w, "<html><title>queued</title>ok</html>")
	}))
	t.Cleanup(web.Close)

	dir := t.TempDir()
	db := filepath.Join(dir, "fw.db")
	token := createToken(t, bin, db, "agent-chaos")
	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	targets := map[string]bool{}
	for i := range queueItems {
		it, err := st.Enqueue(ctx, fmt.Sprintf("%s/q/%02d", web.URL, i), "chaos")
		if err != nil {
			t.Fatal(err)
		}
		targets[it.Target] = true
	}
	coll := newCollector(t, bin, db, "--queue-lease", queueLease.String())
	spool := filepath.Join(dir, "spool")
	agent := func(n int) *proc {
		return start(t, fmt.Sprintf("agent #%d", n), bin, []string{loopbackRoutes},
			"agent", "--collector", coll.url(), "--token", token, "--spool", spool,
			"--poll", "200ms", "--max", "5", "--timeout", "5s")
	}

	start0 := time.Now()
	a := agent(1)
	for k := range agentKills {
		time.Sleep(time.Duration(300+r.IntN(1200)) * time.Millisecond)
		a.kill()
		time.Sleep(time.Duration(r.IntN(300)) * time.Millisecond)
		a = agent(k + 2)
	}
	deadline := time.Now().Add(3 * time.Minute)
	var items []store.QueueItem
	for {
		items, err = st.Queue(ctx, store.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, it := range items {
			if it.State == store.QueueDone {
				done++
			}
		}
		if done == len(items) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 3 minutes %d of %d queued items are done", done, len(items))
		}
		time.Sleep(200 * time.Millisecond)
	}
	elapsed := time.Since(start0)
	a.stop()
	coll.p.stop()

	if len(items) != queueItems {
		t.Errorf("the queue holds %d items, want %d", len(items), queueItems)
	}
	measured := 0
	for tg := range targets {
		rows, err := st.Measurements(ctx, store.Filter{Target: tg}, store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			t.Errorf("queued %s was never measured", tg)
		} else {
			measured++
		}
	}
	again := 0 // hand-outs after the first: items a killed agent held
	for _, it := range items {
		again += it.Takes - 1
	}
	waiting, rejected := spoolLeft(t, spool)
	t.Logf("%d queued items, %d measured and done after %d agent kills (lease %v; %d hand-outs again), %v; spool %d waiting, %d rejected",
		queueItems, measured, agentKills, queueLease, again, elapsed.Round(time.Second), len(waiting), len(rejected))
	if again == 0 {
		t.Errorf("no item was handed out again: the kills never hit an agent holding items")
	}
	if len(rejected) > 0 {
		t.Errorf("%d records rejected", len(rejected))
	}
	if integrity := integrityCheck(t, db); integrity != "ok" {
		t.Errorf("integrity_check: %s", integrity)
	}
}
