package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/runner"
	"github.com/firewatch/firewatch/internal/target"
	"github.com/firewatch/firewatch/internal/upload"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newRunCmd) }

func newRunCmd() *cobra.Command {
	var pf probeFlags
	var list, out string
	var concurrency int
	var targetTimeout time.Duration
	var appendOut, noProgress bool
	var up uploadFlags
	cmd := &cobra.Command{
		Use:   "run --list FILE [--out FILE] [--upload URL --token T]",
		Short: "Measure every target of a test list, writing JSON Lines and/or uploading",
		Long: `Measure every target of a list (a Citizen Lab test-list CSV or one target per
line) with bounded concurrency, streaming each record to --out as JSON Lines.
A progress bar shows on a terminal. Ctrl-C stops cleanly, keeping every
finished record. With --upload, each record is first written to a local spool
(--spool) and uploaded in batches to the collector; only what the collector
acknowledged leaves the spool, so nothing is lost while it is down.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if list == "" {
				return errors.New("--list FILE is required")
			}
			if out == "" && up.url == "" {
				return errors.New("--out FILE or --upload URL is required")
			}
			if concurrency < 1 {
				return fmt.Errorf("--concurrency %d: must be at least 1", concurrency)
			}
			total, err := countTargets(list)
			if err != nil {
				return err
			}
			if targetTimeout < 0 {
				return fmt.Errorf("--target-timeout %s: must not be negative", targetTimeout)
			}
			measure, err := pf.measurer()
			if err != nil {
				return err
			}
			if targetTimeout > 0 {
				inner := measure
				measure = func(ctx context.Context, t target.Target) *model.Measurement {
					ctx, cancel := context.WithTimeout(ctx, targetTimeout)
					defer cancel()
					return inner(ctx, t)
				}
			}
			f, err := os.Open(list)
			if err != nil {
				return fmt.Errorf("list: %w", err)
			}
			defer f.Close()
			// The spool comes first: a record in --out is always spooled
			// too, even when the process is killed between the two writes.
			var sinks []runner.Sink
			var upSink *upload.Sink
			if up.url != "" {
				sink, err := up.sink(cmd.Context(), cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				upSink = sink
				sinks = append(sinks, sink)
			}
			if out != "" {
				sink, err := runner.CreateJSONL(out, appendOut)
				if err != nil {
					if upSink != nil {
						upSink.Close()
					}
					return err
				}
				sinks = append(sinks, sink)
			}
			progress := !noProgress && isatty.IsTerminal(os.Stderr.Fd())
			sum, err := runner.Run(cmd.Context(), target.NewListReader(f, list), measure, sinks,
				runner.Options{Concurrency: concurrency, Progress: progress, ProgressOut: cmd.ErrOrStderr(), Total: total})
			var where []string
			if out != "" {
				where = append(where, "records in "+out)
			}
			if up.url != "" {
				where = append(where, "uploaded to "+up.url)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s; %s\n", sum, strings.Join(where, ", "))
			if upSink != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "upload: %s\n", upSink.Status())
			}
			if err != nil {
				return err
			}
			if sum.Interrupted {
				return exitError{130}
			}
			return nil
		},
	}
	pf.register(cmd.Flags())
	cmd.Flags().StringVar(&list, "list", "", "test list: Citizen Lab CSV or one target per line")
	cmd.Flags().StringVar(&out, "out", "", "JSON Lines output file")
	up.register(cmd.Flags())
	cmd.Flags().IntVar(&concurrency, "concurrency", runner.DefaultConcurrency, "targets measured at once (--per-address bounds the connections to one server)")
	cmd.Flags().DurationVar(&targetTimeout, "target-timeout", 0, "longest time one target may take, retests included (0: only the step timeouts bound it)")
	cmd.Flags().BoolVar(&appendOut, "append", false, "append to --out instead of truncating it")
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "never show the progress bar")
	return cmd
}

// countTargets validates the whole list before measuring (a bad line fails
// at once, naming file:line) and counts its targets for the progress bar's
// ETA. It streams, so memory stays flat.
func countTargets(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("list: %w", err)
	}
	defer f.Close()
	lr := target.NewListReader(f, path)
	n := 0
	for {
		ts, err := lr.Next()
		if err != nil {
			if err == io.EOF {
				return n, nil
			}
			return 0, err
		}
		n += len(ts)
	}
}
