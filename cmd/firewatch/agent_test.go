package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/collector"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store"
	"github.com/firewatch/firewatch/internal/store/storetest"
	"github.com/firewatch/firewatch/internal/target"
)

func TestAgentMeasuresQueuedTargetsAndUploads(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t, nil)
	srv := httptest.NewServer(collector.New(st, collector.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	secret, err := st.CreateToken(ctx, "agent-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Enqueue(ctx, "https://queued.example/", "operator"); err != nil {
		t.Fatal(err)
	}
	tmpl := storetest.Sample(time.Now())[0]
	var measured []string
	measure := func(ctx context.Context, tg target.Target) *model.Measurement {
		m := *tmpl
		m.ID, m.Target, m.Input, m.Control = fmt.Sprintf("agent-%d", len(measured)), tg.String(), tg.Input, nil
		m.StartedAt = time.Now().UTC()
		measured = append(measured, tg.String())
		return &m
	}
	o := agentOptions{collector: srv.URL, token: secret, spool: filepath.Join(t.TempDir(), "spool"), poll: time.Second, max: 5, once: true}
	var log strings.Builder
	if err := runAgent(ctx, o, measure, &log); err != nil {
		t.Fatalf("agent: %v\n%s", err, log.String())
	}
	if len(measured) != 1 || measured[0] != "https://queued.example/" {
		t.Fatalf("measured %v, want the queued target", measured)
	}
	if _, err := st.Measurement(ctx, "agent-0"); err != nil {
		t.Errorf("measurement not uploaded: %v\n%s", err, log.String())
	}
	if q, _ := st.Queue(ctx, store.Page{}); len(q) != 1 || q[0].TakenBy != "agent-1" || q[0].State != store.QueueDone || q[0].MeasureID != "agent-0" {
		t.Errorf("queue %+v, want the item taken by agent-1 and done by agent-0", q)
	}

	// A wrong token stops the agent with a clear error.
	o.token = "wrong"
	if err := runAgent(ctx, o, measure, io.Discard); err == nil || !strings.Contains(err.Error(), "refused the token") {
		t.Errorf("wrong token: %v", err)
	}
}

// TestAgentCrashLosesNoQueueItem: an agent that dies after taking the queue
// (nothing measured, nothing uploaded) loses nothing: once the lease is
// over, the next agent gets every item, and each is done once measured.
func TestAgentCrashLosesNoQueueItem(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t, nil)
	const lease = 200 * time.Millisecond
	srv := httptest.NewServer(collector.New(st, collector.Config{QueueLease: lease, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	secret, err := st.CreateToken(ctx, "agent-1")
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	for i := range n {
		if _, err := st.Enqueue(ctx, fmt.Sprintf("https://q%d.example/", i), "operator"); err != nil {
			t.Fatal(err)
		}
	}
	tmpl := storetest.Sample(time.Now())[0]
	o := agentOptions{collector: srv.URL, token: secret, spool: filepath.Join(t.TempDir(), "spool"), poll: time.Second, max: n, once: true}

	crashCtx, crash := context.WithCancel(ctx)
	dying := func(context.Context, target.Target) *model.Measurement { crash(); return nil }
	runAgent(crashCtx, o, dying, io.Discard)

	time.Sleep(lease + 50*time.Millisecond)
	measured := map[string]int{}
	measure := func(ctx context.Context, tg target.Target) *model.Measurement {
		m := *tmpl
		m.ID, m.Target, m.Input, m.Control = fmt.Sprintf("again-%d", len(measured)), tg.String(), tg.Input, nil
		m.StartedAt = time.Now().UTC()
		measured[tg.String()]++
		return &m
	}
	var log strings.Builder
	if err := runAgent(ctx, o, measure, &log); err != nil {
		t.Fatalf("agent: %v\n%s", err, log.String())
	}
	if len(measured) != n {
		t.Errorf("the agent after the crash measured %d of %d targets\n%s", len(measured), n, log.String())
	}
	q, err := st.Queue(ctx, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range q {
		if it.State != store.QueueDone || it.Takes != 2 {
			t.Errorf("item %d (%s): %s after %d takes, want done after 2", it.ID, it.Target, it.State, it.Takes)
		}
	}
}

// TestAgentReportsRefusedRecords: a record the collector refuses as invalid
// (600 steps, the format allows 512) goes to the spool's rejected/ with the
// reason, the other is stored, and the agent says so in its status.
func TestAgentReportsRefusedRecords(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t, nil)
	srv := httptest.NewServer(collector.New(st, collector.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	secret, err := st.CreateToken(ctx, "agent-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range []string{"https://good.example/", "https://huge.example/"} {
		if _, err := st.Enqueue(ctx, tg, "operator"); err != nil {
			t.Fatal(err)
		}
	}
	tmpl := storetest.Sample(time.Now())[0]
	measure := func(ctx context.Context, tg target.Target) *model.Measurement {
		m := *tmpl
		m.ID, m.Target, m.Input, m.Control = "agent-"+tg.Host, tg.String(), tg.Input, nil
		m.StartedAt = time.Now().UTC()
		if tg.Host == "huge.example" {
			m.Steps = nil
			for len(m.Steps) < 600 {
				m.Steps = append(m.Steps, tmpl.Steps[0])
			}
		}
		return &m
	}
	spool := filepath.Join(t.TempDir(), "spool")
	o := agentOptions{collector: srv.URL, token: secret, spool: spool, poll: time.Second, max: 5, once: true}
	var log strings.Builder
	if err := runAgent(ctx, o, measure, &log); err != nil {
		t.Fatalf("agent: %v\n%s", err, log.String())
	}
	if _, err := st.Measurement(ctx, "agent-good.example"); err != nil {
		t.Errorf("the valid record was not stored: %v", err)
	}
	rej, _ := filepath.Glob(filepath.Join(spool, "rejected", "*huge*.json"))
	if len(rej) != 1 {
		t.Fatalf("rejected %v, want the huge record\n%s", rej, log.String())
	}
	want := "1 uploaded, 1 refused as invalid: kept in " + filepath.Join(spool, "rejected")
	if !strings.Contains(log.String(), want) || !strings.Contains(log.String(), "steps: 600, at most 512") {
		t.Errorf("the agent's log does not say %q with the reason:\n%s", want, log.String())
	}
}
