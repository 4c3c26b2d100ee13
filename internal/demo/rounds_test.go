package demo

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/model"
)

func TestRunRounds(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name        string
		n           int
		failMeasure int // round whose measure fails; 0: none
		failDone    int // round whose done fails; 0: none
		wantRounds  []int
		wantRecords int
		wantErr     error
	}{
		{"one round", 1, 0, 0, []int{1}, 2, nil},
		{"three rounds", 3, 0, 0, []int{1, 2, 3}, 6, nil},
		{"measure fails in round 2", 3, 2, 0, []int{1}, 2, boom},
		{"done fails in round 1", 3, 0, 1, []int{1}, 2, boom},
		{"no rounds", 0, 0, 0, nil, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var done []int
			measure := func(ctx context.Context, r int) ([]*model.Measurement, error) {
				if r == tt.failMeasure {
					return nil, boom
				}
				return []*model.Measurement{
					rec(fmt.Sprint(r, "a"), "http://a.example/", model.StatusOK, secs(r)),
					rec(fmt.Sprint(r, "b"), "http://b.example/", model.StatusOK, secs(r)),
				}, nil
			}
			after := func(ctx context.Context, r int, ms []*model.Measurement, took time.Duration) error {
				done = append(done, r)
				if len(ms) != 2 {
					t.Errorf("round %d: %d records handed over, want 2", r, len(ms))
				}
				if r == tt.failDone {
					return boom
				}
				return nil
			}
			all, err := RunRounds(context.Background(), tt.n, time.Millisecond, measure, after)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if fmt.Sprint(done) != fmt.Sprint(tt.wantRounds) {
				t.Errorf("rounds done %v, want %v", done, tt.wantRounds)
			}
			if len(all) != tt.wantRecords {
				t.Errorf("%d records, want %d", len(all), tt.wantRecords)
			}
		})
	}
}

// TestRunRoundsCancel: an interruption between rounds stops at once and
// keeps the finished rounds' records.
func TestRunRoundsCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	measure := func(ctx context.Context, r int) ([]*model.Measurement, error) {
		cancel()
		return []*model.Measurement{rec(fmt.Sprint(r), "http://a.example/", model.StatusOK, 0)}, nil
	}
	start := time.Now()
	all, err := RunRounds(ctx, 3, time.Hour, measure, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if len(all) != 1 {
		t.Errorf("%d records, want the first round's 1", len(all))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to stop", d)
	}
}
