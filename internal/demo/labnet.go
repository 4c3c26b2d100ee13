package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/firewatch/firewatch/internal/lab"
	"github.com/firewatch/firewatch/internal/lab/verify"
	"github.com/firewatch/firewatch/internal/model"
)

// Lab is what the demo needs of the lab: bring it up from a scenario file,
// measure a list of targets from the inside vantage, and tear it down.
type Lab interface {
	// Up builds the lab and returns a one-line description of it.
	Up(ctx context.Context, scenarioPath string) (string, error)
	// Measure measures every target once from inside and returns the records.
	Measure(ctx context.Context, round int, targets []string) ([]*model.Measurement, error)
	// Down removes what Up built; it must leave alone a lab someone else runs.
	Down(ctx context.Context) error
}

// NetnsLab is the real lab (network namespaces); the probe runs inside it
// as `EXE run --list LIST --out ROUND.jsonl` through lab.Exec.
type NetnsLab struct {
	Name     string    // the lab's name; "" means lab.DefaultName
	StateDir string    // "" means lab.StateDir(Name)
	Exe      string    // the firewatch binary; "" means this executable
	Control  bool      // start the control in the outside vantage
	Seed     int64     // the censor's seed
	WorkDir  string    // where the lists, records and logs of the rounds go
	Log      io.Writer // the lab's progress lines; nil discards

	// Concurrency is the probe's --concurrency; 0 leaves its default.
	Concurrency int
	created     time.Time       // of the lab Up built, to recognise it at Down
	netns       map[string]nsID // identity of each namespace Up built
}

// nsID identifies a network namespace (the nsfs inode its name is bound to),
// to tell the lab Up built from one someone else built since under the same
// names.
type nsID struct{ dev, ino uint64 }

// netnsDir is where `ip netns` binds named namespaces.
const netnsDir = "/run/netns"

func namespaceID(name string) (nsID, bool) {
	fi, err := os.Stat(filepath.Join(netnsDir, name))
	if err != nil {
		return nsID{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nsID{}, false
	}
	return nsID{uint64(st.Dev), st.Ino}, true
}

func (l *NetnsLab) stateDir() string {
	if l.StateDir == "" {
		return lab.StateDir(l.name())
	}
	return l.StateDir
}

func (l *NetnsLab) name() string {
	if l.Name == "" {
		return lab.DefaultName
	}
	return l.Name
}

func (l *NetnsLab) exe() (string, error) {
	if l.Exe != "" {
		return l.Exe, nil
	}
	// The path, not /proc/self/exe: the lab starts it in other namespaces.
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("demo: own executable: %w", err)
	}
	return exe, nil
}

// Up implements Lab.
func (l *NetnsLab) Up(ctx context.Context, scenarioPath string) (string, error) {
	exe, err := l.exe()
	if err != nil {
		return "", err
	}
	st, err := lab.Up(ctx, lab.Options{
		Scenario: scenarioPath, Name: l.name(), StateDir: l.stateDir(), Exe: exe,
		Control: l.Control, Seed: l.Seed, Log: l.Log,
	})
	if err != nil {
		return "", err
	}
	l.created = st.Created
	l.netns = map[string]nsID{}
	for _, ns := range st.Namespaces {
		if id, ok := namespaceID(ns); ok {
			l.netns[ns] = id
		}
	}
	desc := fmt.Sprintf("%d hosts, censor on %s", len(st.Hosts), st.CensorNamespace)
	if st.ControlURL != "" {
		desc += ", control at " + st.ControlURL
	} else {
		desc += ", no control (verdicts will be weak)"
	}
	return desc, nil
}

// Measure implements Lab.
func (l *NetnsLab) Measure(ctx context.Context, round int, targets []string) ([]*model.Measurement, error) {
	exe, err := l.exe()
	if err != nil {
		return nil, err
	}
	list := filepath.Join(l.WorkDir, "targets.txt")
	if err := os.WriteFile(list, []byte(strings.Join(targets, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	out := filepath.Join(l.WorkDir, fmt.Sprintf("round-%d.jsonl", round))
	argv := []string{exe, "run", "--list", list, "--out", out, "--no-progress"}
	if l.Concurrency > 0 {
		argv = append(argv, "--concurrency", fmt.Sprint(l.Concurrency))
	}
	var stderr bytes.Buffer
	stop := l.progress(out, len(targets))
	code, err := lab.Exec(ctx, l.stateDir(), lab.ExecSpec{
		From: lab.FromInside, Argv: argv, Stdout: &stderr, Stderr: &stderr,
	})
	stop()
	_ = os.WriteFile(filepath.Join(l.WorkDir, fmt.Sprintf("round-%d.log", round)), stderr.Bytes(), 0o644)
	if err != nil {
		return nil, err
	}
	ms, rerr := readRecords(out)
	if ctx.Err() != nil {
		return ms, ctx.Err()
	}
	if code != 0 && len(ms) == 0 {
		return nil, fmt.Errorf("the probe inside exited with status %d: %s", code, lastLines(stderr.String(), 3))
	}
	if (code != 0 || len(ms) < len(targets)) && l.Log != nil {
		fmt.Fprintf(l.Log, "probe: exit status %d, %d records for %d targets: %s\n", code, len(ms), len(targets), lastLines(stderr.String(), 3))
	}
	if rerr != nil {
		return ms, rerr
	}
	return ms, nil
}

// progressEvery is how often a long round says how far it got.
const progressEvery = 10 * time.Second

// progress prints, every progressEvery, how many records the probe wrote to
// out so far, until the returned function is called.
func (l *NetnsLab) progress(out string, total int) (stop func()) {
	if l.Log == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if b, err := os.ReadFile(out); err == nil {
					fmt.Fprintf(l.Log, "probe: %d of %d targets measured\n", bytes.Count(b, []byte("\n")), total)
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// Down implements Lab. It removes the lab only if the running one is the one
// Up built: someone may have removed it meanwhile and brought up their own,
// under the same namespace names (with this state directory or another).
func (l *NetnsLab) Down(ctx context.Context) error {
	if l.created.IsZero() {
		return nil
	}
	created := l.created
	l.created = time.Time{}
	st, err := lab.LoadState(l.stateDir())
	if err != nil || !st.Created.Equal(created) {
		return ErrLabGone
	}
	for ns, id := range l.netns {
		if now, ok := namespaceID(ns); ok && now != id {
			// Another lab runs under our names: remove only our state.
			_ = os.RemoveAll(l.stateDir())
			return ErrLabGone
		}
	}
	return lab.Down(ctx, l.name(), l.stateDir())
}

// ErrLabGone is returned by Down when the demo's lab was already removed by
// someone else (and any lab running now is not the demo's, so it is left alone).
var ErrLabGone = errors.New("the demo's lab was already removed by someone else; any lab running now was left alone")

// readRecords reads a JSON Lines file of measurement records. A record that
// does not decode is an error naming the file and record number; the records
// before it are returned.
func readRecords(path string) ([]*model.Measurement, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("records: %w", err)
	}
	defer f.Close()
	ms, err := verify.ReadRecords(f)
	if err != nil {
		return ms, fmt.Errorf("records %s: %w", path, err)
	}
	return ms, nil
}

// lastLines returns the last n non-empty lines of s, joined by " / ".
func lastLines(s string, n int) string {
	var ls []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			ls = append(ls, strings.TrimSpace(l))
		}
	}
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	if len(ls) == 0 {
		return "(no output)"
	}
	return strings.Join(ls, " / ")
}
