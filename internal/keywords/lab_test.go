package keywords_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/keywords"
	"github.com/firewatch/firewatch/internal/lab/scenario"
)

// The lab suite: `firewatch keywords test` of internal/keywords/testdata/
// words-1000.txt inside the lab of scenarios/keywords.yaml, whose censor
// resets twenty of its words. Needs root, FIREWATCH_LAB_TESTS=1 and
// FIREWATCH_BIN (a built firewatch: the lab's daemons are that binary).

const (
	wordList     = "testdata/words-1000.txt"
	wordScenario = "../../scenarios/keywords.yaml"
	wordTemplate = "http://news.example/search?q={}"
)

// labUp brings the lab of scenarios/keywords.yaml up for the test and
// returns the firewatch binary and the lab's state directory.
func labUp(tb testing.TB) (bin, state string) {
	tb.Helper()
	if os.Getenv("FIREWATCH_LAB_TESTS") != "1" || os.Getenv("FIREWATCH_BIN") == "" {
		tb.Skip("lab suite: set FIREWATCH_LAB_TESTS=1 and FIREWATCH_BIN=path/to/firewatch (as root)")
	}
	bin, err := filepath.Abs(os.Getenv("FIREWATCH_BIN"))
	if err != nil {
		tb.Fatal(err)
	}
	state = tb.TempDir()
	tb.Cleanup(func() { _ = exec.Command(bin, "lab", "down", "--state", state).Run() })
	if out, err := exec.Command(bin, "lab", "up", "--scenario", wordScenario, "--state", state).CombinedOutput(); err != nil {
		tb.Fatalf("lab up: %v\n%s", err, out)
	}
	return bin, state
}

// testWords runs keywords test inside and returns its JSON lines.
func testWords(tb testing.TB, bin, state string) []keywords.WordResult {
	tb.Helper()
	list, err := filepath.Abs(wordList)
	if err != nil {
		tb.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "lab", "exec", "--state", state, "--", bin, "keywords", "test", "--list", list, "--template", wordTemplate, "--json")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("keywords test: %v\n%s", err, stderr.String())
	}
	var out []keywords.WordResult
	dec := json.NewDecoder(&stdout)
	for dec.More() {
		var r keywords.WordResult
		if err := dec.Decode(&r); err != nil {
			tb.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func declared(tb testing.TB) []string {
	sc, err := scenario.Load(wordScenario)
	if err != nil {
		tb.Fatal(err)
	}
	var kws []string
	for _, r := range sc.Censor {
		if r.Reset != nil {
			kws = append(kws, r.Reset.Keywords...)
		}
	}
	slices.Sort(kws)
	return kws
}

func TestLabWordListReportsExactlyTheBlockedWords(t *testing.T) {
	want := declared(t)
	bin, state := labUp(t)
	res := testWords(t, bin, state)
	if len(res) != 1000 {
		t.Fatalf("%d results, want 1000", len(res))
	}
	var blocked []string
	for _, r := range res {
		switch r.Status {
		case keywords.StatusBlocked:
			blocked = append(blocked, r.Word)
		case keywords.StatusError:
			t.Errorf("word %q: error", r.Word)
		}
	}
	slices.Sort(blocked)
	if !slices.Equal(blocked, want) {
		t.Errorf("blocked %q, want the %d declared keywords %q", blocked, len(want), want)
	}
}

// BenchmarkLabWordList times `keywords test` of 1,000 words in the lab
// (figures in docs/benchmarks.md).
func BenchmarkLabWordList(b *testing.B) {
	bin, state := labUp(b)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if res := testWords(b, bin, state); len(res) != 1000 {
			b.Fatalf("%d results", len(res))
		}
	}
	b.ReportMetric(float64(1000*b.N)/time.Since(start).Seconds(), "words/s")
}
