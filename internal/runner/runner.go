// Package runner measures a target list with bounded concurrency, streaming:
// targets are read one at a time and every finished record goes to the sinks
// at once, so memory does not grow with the list and Ctrl-C loses nothing
// already measured.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/target"
	"github.com/schollz/progressbar/v3"
)

// MeasureFunc measures one target.
type MeasureFunc func(ctx context.Context, t target.Target) *model.Measurement

// Sink receives finished measurements, one call at a time.
type Sink interface {
	Write(m *model.Measurement) error
	Close() error
}

// Options tunes Run.
type Options struct {
	Concurrency int       // measurements in flight (default 4)
	Progress    bool      // show a progress bar (the caller decides: a terminal only)
	ProgressOut io.Writer // where the bar goes (default os.Stderr)
	Total       int       // number of targets when known (for the ETA); 0 unknown
}

// Summary counts what Run did.
type Summary struct {
	Measured    int           // records written
	Failed      int           // records with at least one failed step
	Interrupted bool          // the context was cancelled before the end
	Elapsed     time.Duration // wall time
}

// String is a one-line human summary.
func (s Summary) String() string {
	state := "done"
	if s.Interrupted {
		state = "interrupted"
	}
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Measured) / s.Elapsed.Seconds()
	}
	return fmt.Sprintf("%s: %d measured (%d with failed steps) in %s (%.1f/s)", state, s.Measured, s.Failed, s.Elapsed.Round(time.Millisecond), rate)
}

// Run reads targets from lr and measures them with at most opts.Concurrency in
// flight, writing each record to every sink as it finishes. It stops reading
// when ctx is cancelled, waits for the measurements in flight (their context
// is cancelled too, so they end quickly) and writes them. The sinks are
// closed before Run returns. A list error (bad line) stops the run and is
// returned after the records already measured are written.
func Run(ctx context.Context, lr *target.ListReader, measure MeasureFunc, sinks []Sink, opts Options) (Summary, error) {
	start := time.Now()
	n := opts.Concurrency
	if n <= 0 {
		n = 4
	}
	var bar *progressbar.ProgressBar
	if opts.Progress {
		out := opts.ProgressOut
		if out == nil {
			out = os.Stderr
		}
		total := int64(opts.Total)
		if total <= 0 {
			total = -1
		}
		bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(out),
			progressbar.OptionSetDescription("measuring"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("targets"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(out) }),
		)
	}

	jobs := make(chan target.Target)
	results := make(chan *model.Measurement, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range jobs {
				results <- measure(ctx, t)
			}
		}()
	}

	var readErr error
	go func() {
		defer close(jobs)
		for {
			ts, err := lr.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				readErr = err
				return
			}
			for _, t := range ts {
				select {
				case jobs <- t:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()

	var sum Summary
	var sinkErr error
	for m := range results {
		if m == nil {
			continue
		}
		for _, s := range sinks {
			if err := s.Write(m); err != nil && sinkErr == nil {
				sinkErr = err
			}
		}
		sum.Measured++
		if hasFailure(m) {
			sum.Failed++
		}
		if bar != nil {
			bar.Add(1)
		}
	}
	if bar != nil {
		bar.Finish()
	}
	for _, s := range sinks {
		if err := s.Close(); err != nil && sinkErr == nil {
			sinkErr = err
		}
	}
	sum.Interrupted = ctx.Err() != nil
	sum.Elapsed = time.Since(start)
	return sum, errors.Join(readErr, sinkErr)
}

func hasFailure(m *model.Measurement) bool {
	for _, s := range m.Steps {
		if s.Failure != nil {
			return true
		}
	}
	return false
}
