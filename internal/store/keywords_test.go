package store

import (
	"context"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/model"
)

// wordRun is the record of one `keywords test` run: a keyword_test step per word.
func wordRun(id string, at time.Time, words map[string]string) *model.Measurement {
	m := meas(id, "http://news.example/search?q=", at, model.StatusOK)
	for w, status := range words {
		kd := &model.KeywordData{Field: "path", Value: "/search?q=" + w, Word: w, Status: status, Blocked: status == model.StatusBlocked}
		if kd.Blocked {
			kd.Methods = []string{model.MethodHTTPReset}
			m.Status, m.Methods = model.StatusBlocked, []string{model.MethodHTTPReset}
		}
		m.Steps = append(m.Steps, model.Step{Operation: model.OpKeywordTest, StartedAt: at, Keyword: kd})
	}
	return m
}

func TestKeywordHistoryAndEvents(t *testing.T) {
	forEach(t, func(t *testing.T, s *sqlStore) {
		ctx := context.Background()
		t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
		mustInsert(t, s, wordRun("w1", t0, map[string]string{"falun": "blocked", "weather": "ok", "cats": "error"}))
		mustInsert(t, s, wordRun("w2", t0.Add(time.Hour), map[string]string{"falun": "blocked", "weather": "blocked"}))
		mustInsert(t, s, wordRun("w3", t0.Add(2*time.Hour), map[string]string{"falun": "ok", "weather": "blocked"}))
		// an older record arriving late changes nothing
		mustInsert(t, s, wordRun("w0", t0.Add(-time.Hour), map[string]string{"falun": "ok"}))

		ks, err := s.KeywordStates(ctx, "http://news.example/search?q=")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]KeywordState{}
		for _, k := range ks {
			got[k.Word] = k
		}
		if len(ks) != 2 || ks[0].Word != "weather" {
			t.Fatalf("states %+v, want weather (blocked) then falun; cats (error) never counted", ks)
		}
		if w := got["weather"]; w.Status != model.StatusBlocked || !w.Since.Equal(t0.Add(time.Hour)) || w.Tests != 3 || w.BlockedTests != 2 {
			t.Errorf("weather %+v", w)
		}
		if f := got["falun"]; f.Status != model.StatusOK || f.Tests != 4 || f.BlockedTests != 2 || f.LastMeasureID != "w3" {
			t.Errorf("falun %+v", f)
		}
		evs, err := s.Events(ctx, Filter{}, Page{})
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range evs {
			if e.Keyword != "" {
				kinds = append(kinds, e.Kind+" "+e.Keyword+" "+e.MeasureID)
			}
		}
		want := []string{"keyword_unblocked falun w3", "keyword_blocked weather w2", "keyword_blocked falun w1"}
		if len(kinds) != len(want) {
			t.Fatalf("keyword events %q, want %q", kinds, want)
		}
		for i := range want {
			if kinds[i] != want[i] {
				t.Errorf("event %d: %q, want %q", i, kinds[i], want[i])
			}
		}
	})
}
