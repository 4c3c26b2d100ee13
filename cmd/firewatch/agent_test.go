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
	"github.com/firewatch/firewatch/internal/store/storetest"
	"github.com/firewatch/firewatch/internal/target"
)

func TestAgentMeasuresQueuedTargetsAndUploads(t *testing.T) {
	ctx := context.Background()
	st := storetest.New()
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
	if q := st.Queue(); q[0].TakenBy != "agent-1" {
		t.Errorf("queue item taken by %q, want agent-1", q[0].TakenBy)
	}

	// A wrong token stops the agent with a clear error.
	o.token = "wrong"
	if err := runAgent(ctx, o, measure, io.Discard); err == nil || !strings.Contains(err.Error(), "refused the token") {
		t.Errorf("wrong token: %v", err)
	}
}
