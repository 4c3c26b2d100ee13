package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/firewatch/firewatch/internal/collector/api"
	"github.com/firewatch/firewatch/internal/runner"
	"github.com/firewatch/firewatch/internal/store"
	"github.com/firewatch/firewatch/internal/target"
	"github.com/firewatch/firewatch/internal/upload"
)

func init() { commands = append(commands, newAgentCmd) }

// errRefused is a take request the collector refused for good (bad token).
var errRefused = errors.New("collector refused the token")

type agentOptions struct {
	collector string
	token     string
	spool     string
	poll      time.Duration
	max       int
	once      bool
}

func newAgentCmd() *cobra.Command {
	var o agentOptions
	var pf probeFlags
	cmd := &cobra.Command{
		Use:   "agent",
		Short: `Measure the targets operators queue on a collector ("test now")`,
		Long: `Poll a collector's queue (POST /api/v1/queue/take) for targets operators asked to
test now, measure each from this network, and upload the records through a local spool
(nothing is lost while the collector is down). The token is one from
"firewatch token create" (or $FIREWATCH_TOKEN).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.token == "" {
				o.token = os.Getenv("FIREWATCH_TOKEN")
			}
			if o.token == "" {
				return errors.New("--token (or FIREWATCH_TOKEN) is required")
			}
			if err := checkCollectorURL(o.collector); err != nil {
				return err
			}
			if o.poll <= 0 {
				return fmt.Errorf("--poll %s: must be positive", o.poll)
			}
			if o.max < 1 || o.max > api.MaxTake {
				return fmt.Errorf("--max %d: must be from 1 to %d", o.max, api.MaxTake)
			}
			measure, err := pf.measurer()
			if err != nil {
				return err
			}
			return runAgent(cmd.Context(), o, measure, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.collector, "collector", "", "collector base URL, e.g. https://collector.example.org")
	f.StringVar(&o.token, "token", "", "upload token (else $FIREWATCH_TOKEN)")
	f.StringVar(&o.spool, "spool", upload.DefaultSpoolDir(), "directory holding records until the collector acknowledges them")
	f.DurationVar(&o.poll, "poll", 10*time.Second, "how often to ask the collector for queued targets")
	f.IntVar(&o.max, "max", 5, "targets to take per poll")
	f.BoolVar(&o.once, "once", false, "take the queue once, measure, upload and exit")
	cmd.MarkFlagRequired("collector")
	pf.register(f)
	return cmd
}

func checkCollectorURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--collector %q: want http(s)://HOST[:PORT]", s)
	}
	return nil
}

// runAgent polls, measures and uploads until ctx ends (or once).
func runAgent(ctx context.Context, o agentOptions, measure runner.MeasureFunc, logw io.Writer) error {
	sp, err := upload.OpenSpool(o.spool)
	if err != nil {
		return err
	}
	logf := func(format string, args ...any) { fmt.Fprintf(logw, "firewatch agent: "+format+"\n", args...) }
	if sp.Recovered > 0 {
		logf("spool: %d records recovered from an interrupted write", sp.Recovered)
	}
	if rej, _ := sp.Rejected(); len(rej) > 0 {
		logf("spool: %d records refused earlier as invalid wait in %s with the reason beside each", len(rej), filepath.Join(sp.Dir, upload.RejectedDir))
	}
	up := &upload.Uploader{URL: strings.TrimRight(o.collector, "/"), Token: o.token, Spool: sp, Logf: logf}
	sink := upload.NewSink(ctx, up)
	defer func() {
		if err := sink.Close(); err != nil {
			logf("%v", err)
		}
		logf("upload: %s", up.Status())
	}()
	var refused int // rejections already reported in a status line
	client := &http.Client{Timeout: 30 * time.Second}
	backoff := o.poll
	for {
		items, err := takeQueue(ctx, client, o)
		switch {
		case errors.Is(err, errRefused):
			return err
		case err != nil && ctx.Err() == nil:
			logf("taking the queue: %v; retrying in %v", err, backoff)
			backoff = min(backoff*2, 5*time.Minute)
		case err == nil:
			backoff = o.poll
			for _, it := range items {
				measureItem(ctx, it, measure, sink, logf)
			}
		}
		if st := up.Stats(); st.Rejected > refused {
			refused = st.Rejected
			logf("upload: %s", up.Status())
		}
		if o.once || ctx.Err() != nil {
			return nil
		}
		wait := o.poll
		if err != nil {
			wait = backoff
		} else if len(items) == o.max {
			wait = 0 // more may be waiting
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// measureItem measures one queued target (a bare domain gives two) and spools the records.
func measureItem(ctx context.Context, it store.QueueItem, measure runner.MeasureFunc, sink *upload.Sink, logf func(string, ...any)) {
	ts, err := target.Parse(it.Target)
	if err != nil {
		logf("queue item %d: target %q: %v (skipped)", it.ID, it.Target, err)
		return
	}
	for _, t := range ts {
		if ctx.Err() != nil {
			return
		}
		m := measure(ctx, t)
		if m == nil {
			continue
		}
		if err := sink.Write(m); err != nil {
			logf("spooling %s: %v", t, err)
			continue
		}
		logf("measured %s (queue item %d): %s", t, it.ID, m.Status)
	}
}

// takeQueue asks the collector for up to o.max queued targets.
func takeQueue(ctx context.Context, client *http.Client, o agentOptions) ([]store.QueueItem, error) {
	body, _ := json.Marshal(map[string]int{"max": o.max})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(o.collector, "/")+"/api/v1/queue/take", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("%w (%s): create one with firewatch token create", errRefused, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("collector answered %s: %.200s", resp.Status, b)
	}
	var take api.Take
	if err := json.Unmarshal(b, &take); err != nil {
		return nil, fmt.Errorf("queue answer: %w", err)
	}
	return take.Items, nil
}
