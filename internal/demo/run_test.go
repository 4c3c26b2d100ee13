package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/lab"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/scenarios"
)

// fakeLab stands in for the lab: it measures by looking up each target's
// status in a table.
type fakeLab struct {
	status  map[string]string // target → status; blocked targets get http.reset
	up      bool
	downs   int
	rounds  int
	upErr   error
	scen    string
	measure func(ctx context.Context, round int) error
}

func (f *fakeLab) Up(ctx context.Context, path string) (string, error) {
	if f.upErr != nil {
		return "", f.upErr
	}
	f.up, f.scen = true, path
	return "a fake lab", nil
}

func (f *fakeLab) Measure(ctx context.Context, round int, targets []string) ([]*model.Measurement, error) {
	f.rounds++
	if f.measure != nil {
		if err := f.measure(ctx, round); err != nil {
			return nil, err
		}
	}
	var ms []*model.Measurement
	for i, tg := range targets {
		st := f.status[tg]
		if st == "" {
			st = model.StatusOK
		}
		var m *model.Measurement
		id := strings.NewReplacer(":", "_", "/", "_").Replace(tg) + "-" + string(rune('0'+round))
		if st == model.StatusBlocked {
			m = withEvidence(rec(id, tg, st, secs(60*round+i), model.MethodHTTPReset), 3, 3, "cut by a reset: "+tg)
		} else {
			m = rec(id, tg, st, secs(60*round+i))
		}
		m.StartedAt = time.Now().UTC()
		ms = append(ms, m)
	}
	return ms, nil
}

func (f *fakeLab) Down(ctx context.Context) error {
	f.downs++
	f.up = false
	return nil
}

// TestRun runs the whole demo around a fake lab: the collector receives
// every record through the upload path and serves them while Ready runs,
// the table names the blocked targets, and everything is cleaned up.
func TestRun(t *testing.T) {
	fl := &fakeLab{status: map[string]string{
		"http://www.falundafa.org/": model.StatusBlocked,
		"http://down.example/":      model.StatusDown,
	}}
	var out bytes.Buffer
	var overview struct {
		Measurements   int `json:"measurements"`
		BlockedTargets int `json:"blocked_targets"`
	}
	res, err := Run(context.Background(), Options{
		Scenario: "", Listen: "127.0.0.1:0", Rounds: 2, Interval: -1, ExitAfterRounds: true,
		Lab: fl, Out: &out,
		Ready: func(url string) {
			resp, err := http.Get(url + "api/v1/overview")
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			if err := json.NewDecoder(resp.Body).Decode(&overview); err != nil {
				t.Error(err)
			}
		},
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	n := len(res.Targets)
	if fl.rounds != 2 || res.Records != 2*n || res.Stored != 2*n || overview.Measurements != 2*n {
		t.Errorf("rounds %d, records %d, stored %d, served %d; want 2 rounds of %d", fl.rounds, res.Records, res.Stored, overview.Measurements, n)
	}
	if overview.BlockedTargets != 1 || res.Blocked != 1 {
		t.Errorf("blocked targets: %d served, %d in the result; want 1 (two agreeing rounds confirm)", overview.BlockedTargets, res.Blocked)
	}
	if fl.up || fl.downs != 1 {
		t.Errorf("lab up %v after %d downs; want down once", fl.up, fl.downs)
	}
	if _, err := os.Stat(filepath.Dir(fl.scen)); !os.IsNotExist(err) && !strings.HasPrefix(fl.scen, "scenarios") {
		t.Errorf("the embedded scenario's temporary directory %s is still there", filepath.Dir(fl.scen))
	}
	o := out.String()
	for _, want := range []string{
		"[1/5] lab: bringing up seed-2015",
		"[2/5] collector: " + res.URL,
		"[3/5] round 2/2: ",
		"TARGET", "http://www.falundafa.org/  ", "http.reset", "cut by a reset: http://www.falundafa.org/",
		"[4/5] dashboard: " + res.URL,
		"[5/5] cleaned up: collector stopped, lab down, temporary files removed",
	} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
	if resp, err := http.Get(res.URL + "healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("the collector still serves %s after Run", res.URL)
	}
}

// TestRunEmbeddedScenario: away from the repository, the embedded copy is used.
func TestRunEmbeddedScenario(t *testing.T) {
	t.Chdir(t.TempDir())
	fl := &fakeLab{}
	var out bytes.Buffer
	if _, err := Run(context.Background(), Options{Listen: "127.0.0.1:0", Rounds: 1, ExitAfterRounds: true, Lab: fl, Out: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "from the copy built into firewatch") || filepath.Base(fl.scen) != scenarios.Seed {
		t.Errorf("scenario %s; output:\n%s", fl.scen, out.String())
	}
	if _, err := os.Stat(fl.scen); !os.IsNotExist(err) {
		t.Errorf("temporary scenario %s left behind (%v)", fl.scen, err)
	}
}

// TestRunFailures: whatever fails, what was brought up is taken down.
func TestRunFailures(t *testing.T) {
	boom := errors.New("boom")
	t.Run("lab up fails", func(t *testing.T) {
		fl := &fakeLab{upErr: boom}
		_, err := Run(context.Background(), Options{Listen: "127.0.0.1:0", Rounds: 1, Lab: fl, Scenario: "../../scenarios/seed-2015.yaml"})
		if !errors.Is(err, boom) || fl.downs != 0 {
			t.Errorf("err %v, %d downs; want boom and no down", err, fl.downs)
		}
	})
	t.Run("a round fails", func(t *testing.T) {
		fl := &fakeLab{measure: func(ctx context.Context, round int) error { return boom }}
		var out bytes.Buffer
		_, err := Run(context.Background(), Options{Listen: "127.0.0.1:0", Rounds: 1, Lab: fl, Out: &out, Scenario: "../../scenarios/seed-2015.yaml"})
		if !errors.Is(err, boom) || fl.downs != 1 || !strings.Contains(out.String(), "cleaned up: collector stopped, lab down") {
			t.Errorf("err %v, %d downs; want boom and one down; output:\n%s", err, fl.downs, out.String())
		}
	})
	t.Run("interrupted during a round", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		fl := &fakeLab{measure: func(ctx context.Context, round int) error { cancel(); return ctx.Err() }}
		_, err := Run(ctx, Options{Listen: "127.0.0.1:0", Rounds: 3, Lab: fl, Scenario: "../../scenarios/seed-2015.yaml"})
		if !errors.Is(err, context.Canceled) || fl.downs != 1 {
			t.Errorf("err %v, %d downs; want context.Canceled and one down", err, fl.downs)
		}
	})
	t.Run("interrupted while serving is the normal end", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		fl := &fakeLab{}
		_, err := Run(ctx, Options{Listen: "127.0.0.1:0", Rounds: 1, Lab: fl, Scenario: "../../scenarios/seed-2015.yaml",
			Ready: func(string) { cancel() }})
		if err != nil || fl.downs != 1 {
			t.Errorf("err %v, %d downs; want nil and one down", err, fl.downs)
		}
	})
	t.Run("bad scenario", func(t *testing.T) {
		fl := &fakeLab{}
		_, err := Run(context.Background(), Options{Lab: fl, Scenario: filepath.Join(t.TempDir(), "missing.yaml")})
		if err == nil || !strings.Contains(err.Error(), "missing.yaml") || fl.up {
			t.Errorf("err %v; want one naming missing.yaml, and no lab", err)
		}
	})
}

// TestNetnsLabDownLeavesOthersAlone: Down touches no lab but the one Up
// built (here: none was built, or the state names another lab).
func TestNetnsLabDownLeavesOthersAlone(t *testing.T) {
	dir := t.TempDir()
	l := &NetnsLab{StateDir: dir}
	if err := l.Down(context.Background()); err != nil {
		t.Errorf("Down without Up: %v, want nil", err)
	}
	l.created = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := l.Down(context.Background()); !errors.Is(err, ErrLabGone) {
		t.Errorf("Down with no state: %v, want ErrLabGone", err)
	}
	l.created = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	other := []byte(`{"created": "2026-02-02T00:00:00Z"}`)
	if err := os.WriteFile(filepath.Join(dir, lab.StateFile), other, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.Down(context.Background()); !errors.Is(err, ErrLabGone) {
		t.Errorf("Down with another lab's state: %v, want ErrLabGone", err)
	}
	if _, err := os.Stat(filepath.Join(dir, lab.StateFile)); err != nil {
		t.Errorf("the other lab's state was touched: %v", err)
	}
}
