package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/collector/ingest"
	"github.com/firewatch/firewatch/internal/keywords"
	"github.com/firewatch/firewatch/internal/model"
)

// TestWordsRecordsWithinBounds: a keywords test of a long list gives records
// of at most model.MaxSteps steps, each accepted by the collector, with
// every word in exactly one of them and the blocked status where its words are.
func TestWordsRecordsWithinBounds(t *testing.T) {
	tpl, err := keywords.ParseTemplate(keywords.FieldPath, "http://www.example.org/search?q={}")
	if err != nil {
		t.Fatal(err)
	}
	const n = 1200
	var res []keywords.WordResult
	var steps []model.Step
	for i := range n {
		w := fmt.Sprintf("word%d", i)
		status, methods := model.StatusOK, []string{}
		if i == 1100 {
			status, methods = model.StatusBlocked, []string{model.MethodHTTPReset}
		}
		res = append(res, keywords.WordResult{Word: w, Status: status, Methods: methods})
		steps = append(steps, model.Step{Operation: model.OpKeywordTest, Address: "192.0.2.10:80", Hostname: "www.example.org", StartedAt: time.Now().UTC(),
			Keyword: &model.KeywordData{Field: keywords.FieldPath, Value: tpl.Value(w), Blocked: status == model.StatusBlocked, Outcome: "200"}})
	}
	ms := wordsRecords(tpl, res, steps, time.Now(), model.ProbeInfo{Country: "ZZ", Software: "firewatch/test"})
	if len(ms) != 3 {
		t.Fatalf("%d records, want 3", len(ms))
	}
	seen := map[string]int{}
	for i, m := range ms {
		if err := ingest.Validate(m); err != nil {
			t.Errorf("record %d: %v", i, err)
		}
		for _, st := range m.Steps {
			seen[st.Keyword.Word]++
		}
		if want := map[bool]string{true: model.StatusBlocked, false: model.StatusOK}[i == 2]; m.Status != want {
			t.Errorf("record %d: status %s, want %s", i, m.Status, want)
		}
	}
	if len(seen) != n {
		t.Errorf("%d words in the records, want %d", len(seen), n)
	}
	for w, c := range seen {
		if c != 1 {
			t.Errorf("%s in %d records", w, c)
		}
	}
}
