package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/firewatch/firewatch/internal/model"
)

// RoundFunc measures every target once (one round, numbered from 1) and
// returns the records.
type RoundFunc func(ctx context.Context, round int) ([]*model.Measurement, error)

// RoundDone receives each round's records as soon as the round ends (the
// demo uploads them to the collector); an error stops the rounds.
type RoundDone func(ctx context.Context, round int, ms []*model.Measurement, took time.Duration) error

// RunRounds runs n rounds, interval apart (from the end of one to the start
// of the next), hands each round's records to done, and returns the records
// of every round. It stops at the first error (the records of the finished
// rounds are still returned) or when ctx ends.
func RunRounds(ctx context.Context, n int, interval time.Duration, measure RoundFunc, done RoundDone) ([]*model.Measurement, error) {
	var all []*model.Measurement
	for r := 1; r <= n; r++ {
		if r > 1 && interval > 0 {
			t := time.NewTimer(interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return all, ctx.Err()
			case <-t.C:
			}
		}
		if err := ctx.Err(); err != nil {
			return all, err
		}
		start := time.Now()
		ms, err := measure(ctx, r)
		if err != nil {
			return all, fmt.Errorf("round %d/%d: %w", r, n, err)
		}
		all = append(all, ms...)
		if done != nil {
			if err := done(ctx, r, ms, time.Since(start)); err != nil {
				return all, fmt.Errorf("round %d/%d: %w", r, n, err)
			}
		}
	}
	return all, nil
}
