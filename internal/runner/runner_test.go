package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/target"
)

func fakeMeasure(delay time.Duration) MeasureFunc {
	return func(ctx context.Context, t target.Target) *model.Measurement {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
		return &model.Measurement{Schema: model.SchemaVersion, ID: t.String(), Target: t.String(), Status: model.StatusMeasured, Methods: []string{}, Steps: []model.Step{}}
	}
}

func list(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "http://site%d.example/\n", i)
	}
	return b.String()
}

func readJSONL(t *testing.T, path string) []model.Measurement {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []model.Measurement
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m model.Measurement
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %v", len(out)+1, err)
		}
		out = append(out, m)
	}
	return out
}

func TestRun(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "out.jsonl")
	sink, err := CreateJSONL(out, false)
	if err != nil {
		t.Fatal(err)
	}
	var inFlight, peak atomic.Int32
	measure := func(ctx context.Context, tg target.Target) *model.Measurement {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		defer inFlight.Add(-1)
		return fakeMeasure(time.Millisecond)(ctx, tg)
	}
	sum, err := Run(context.Background(), target.NewListReader(strings.NewReader(list(200)), "list"), measure, []Sink{sink}, Options{Concurrency: 5})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Measured != 200 || sum.Interrupted {
		t.Errorf("summary %+v, want 200 measured", sum)
	}
	if p := peak.Load(); p > 5 {
		t.Errorf("peak concurrency %d, want at most 5", p)
	}
	ms := readJSONL(t, out)
	seen := map[string]bool{}
	for _, m := range ms {
		seen[m.ID] = true
	}
	if len(ms) != 200 || len(seen) != 200 {
		t.Errorf("%d records, %d distinct, want 200", len(ms), len(seen))
	}
}

func TestRunInterrupted(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "out.jsonl")
	sink, err := CreateJSONL(out, false)
	if err != nil {
		t.Fatal(err)
	}
	in := list(100000)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	sum, err := Run(ctx, target.NewListReader(strings.NewReader(in), "list"), fakeMeasure(20*time.Millisecond), []Sink{sink}, Options{Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Interrupted || sum.Measured == 0 || sum.Measured > 1000 {
		t.Errorf("summary %+v, want interrupted after some records", sum)
	}
	if got := len(readJSONL(t, out)); got != sum.Measured {
		t.Errorf("%d records in the file, summary says %d", got, sum.Measured)
	}
}

func TestRunBadLine(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "out.jsonl")
	sink, err := CreateJSONL(out, false)
	if err != nil {
		t.Fatal(err)
	}
	in := "http://a.example/\nhttp://b.example/\nftp://c.example/\n"
	sum, err := Run(context.Background(), target.NewListReader(strings.NewReader(in), "my.txt"), fakeMeasure(0), []Sink{sink}, Options{})
	if err == nil || !strings.Contains(err.Error(), "my.txt:3") {
		t.Errorf("error %v, want one naming my.txt:3", err)
	}
	if sum.Measured != 2 || len(readJSONL(t, out)) != 2 {
		t.Errorf("measured %d, want the 2 good lines kept", sum.Measured)
	}
}

func TestProgress(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	_, err := Run(context.Background(), target.NewListReader(strings.NewReader(list(20)), "l"), fakeMeasure(0), nil,
		Options{Concurrency: 2, Progress: true, ProgressOut: &syncWriter{w: &buf}, Total: 20})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "20/20") {
		t.Errorf("progress output %q lacks 20/20", buf.String())
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestJSONLAppendAfterCut: appending to a file whose last line a killed
// writer cut leaves that line alone and starts the new record on a line of
// its own.
func TestJSONLAppendAfterCut(t *testing.T) {
	for _, c := range []struct{ name, before string }{
		{"empty", ""},
		{"whole lines", "{\"id\":\"a\"}\n"},
		{"cut line", "{\"id\":\"a\"}\n{\"id\":\"b\",\"tar"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.jsonl")
			if err := os.WriteFile(out, []byte(c.before), 0o644); err != nil {
				t.Fatal(err)
			}
			sink, err := CreateJSONL(out, true)
			if err != nil {
				t.Fatal(err)
			}
			if err := sink.Write(&model.Measurement{ID: "c"}); err != nil {
				t.Fatal(err)
			}
			sink.Close()
			b, _ := os.ReadFile(out)
			lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, `{"schema":"","id":"c"`) {
				t.Errorf("last line %q, want the appended record alone", last)
			}
			if !strings.HasPrefix(string(b), c.before) {
				t.Errorf("earlier content changed: %q", b)
			}
		})
	}
}
