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
	"sync/atomic"
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
	Concurrency int       // targets in flight (default DefaultConcurrency)
	Progress    bool      // show a progress bar (the caller decides: a terminal only)
	ProgressOut io.Writer // where the bar goes (default os.Stderr)
	Total       int       // number of targets when known (for the ETA); 0 unknown
}

// DefaultConcurrency is how many targets are measured at once by default:
// enough for a list to keep the pipe full while some targets wait for
// timeouts. The probe bounds the connections to any one server address.
const DefaultConcurrency = 64

// Summary counts what Run did.
type Summary struct {
	Measured    int           // records written
	Failed      int           // records with no step or whose last step failed
	Interrupted bool          // the context was cancelled before the end
	Unfinished  int           // measurements cut short by the interruption, not written
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
	line := fmt.Sprintf("%s: %d measured (%d ending in a failure) in %s (%.1f/s)", state, s.Measured, s.Failed, s.Elapsed.Round(time.Millisecond), rate)
	if s.Unfinished > 0 {
		line += fmt.Sprintf(", %d cut short and not written", s.Unfinished)
	}
	return line
}

// Run reads targets from lr and measures them with at most opts.Concurrency in
// flight, writing each record to every sink as it finishes. It stops reading
// when ctx is cancelled and waits for the measurements in flight (their
// context is cancelled too, so they end quickly); those are not written,
// since their failures would be the interruption's. The sinks are
// closed before Run returns. A list error (bad line) stops the run and is
// returned after the records already measured are written.
func Run(ctx context.Context, lr *target.ListReader, measure MeasureFunc, sinks []Sink, opts Options) (Summary, error) {
	start := time.Now()
	n := opts.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
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
	var unfinished atomic.Int64
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range jobs {
				m := measure(ctx, t)
				if ctx.Err() != nil {
					// Cut short by the interruption: its failures would be
					// ours, not the network's. Not a finished record.
					unfinished.Add(1)
					continue
				}
				results <- m
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
	sum.Unfinished = int(unfinished.Load())
	sum.Elapsed = time.Since(start)
	return sum, errors.Join(readErr, sinkErr)
}

// hasFailure reports whether m ended in a failure: its last step failed
// (a failed AAAA query or one refused address among several is not enough).
func hasFailure(m *model.Measurement) bool {
	return len(m.Steps) == 0 || m.Steps[len(m.Steps)-1].Failure != nil
}
