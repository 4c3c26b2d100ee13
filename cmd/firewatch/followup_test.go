package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/target"
	"github.com/spf13/cobra"
)

// TestFollowUp runs the loop of trace and keywords isolate with a fake
// measurement: a target with nothing to follow up is skipped and not
// written, the other gets its steps, is written to --out and reported after
// it is written; when every target is skipped the command fails naming why.
func TestFollowUp(t *testing.T) {
	errNothing := errors.New("nothing to follow up")
	measure := func(_ context.Context, tg target.Target) *model.Measurement {
		return &model.Measurement{ID: tg.String(), Target: tg.String()}
	}
	out := filepath.Join(t.TempDir(), "out.jsonl")
	rf := &recordFlags{out: out}
	cmd := &cobra.Command{}
	cmd.SetContext(context.Background())
	var reported []string
	each := func(m *model.Measurement) (func() error, error) {
		if strings.HasPrefix(m.Target, "http://") {
			return nil, fmt.Errorf("%w: %s", errNothing, m.Target)
		}
		m.Steps = append(m.Steps, model.Step{Operation: model.OpTraceHop})
		return func() error {
			b, _ := os.ReadFile(out)
			reported = append(reported, fmt.Sprintf("%s written=%v", m.Target, strings.Contains(string(b), m.Target)))
			return nil
		}, nil
	}
	if err := followUp(cmd, "news.example", measure, rf, errNothing, each); err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://news.example/ written=true"}; fmt.Sprint(reported) != fmt.Sprint(want) {
		t.Errorf("reported %v, want %v", reported, want)
	}
	b, _ := os.ReadFile(out)
	if lines := strings.Count(string(b), "\n"); lines != 1 || !strings.Contains(string(b), model.OpTraceHop) || strings.Contains(string(b), `"http://`) {
		t.Errorf("--out holds %d records, want the https one with its step:\n%s", lines, b)
	}
	err := followUp(cmd, "http://news.example/", measure, rf, errNothing, each)
	if err == nil || !strings.Contains(err.Error(), "nothing to follow up: http://news.example/") {
		t.Errorf("every target skipped: %v, want the reason", err)
	}
	if err := followUp(cmd, "ftp://x", measure, rf, errNothing, each); err == nil || !strings.Contains(err.Error(), `target "ftp://x"`) {
		t.Errorf("a bad target: %v", err)
	}
}
