package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/firewatch/firewatch/internal/model"
)

// Event kinds of keywords (Event.Keyword names the word).
const (
	EventKeywordBlocked   = "keyword_blocked"   // a word of a list became blocked (or was first seen blocked)
	EventKeywordUnblocked = "keyword_unblocked" // a blocked word passes again
)

// KeywordState is the history of one word of a `firewatch keywords test`
// list, in one template (Target) and one network.
type KeywordState struct {
	Target        string    `json:"target"` // the template's base target
	Word          string    `json:"word"`
	Country       string    `json:"country"`
	ASN           int       `json:"asn"`
	Status        string    `json:"status"` // "blocked" or "ok": the last decisive test
	Methods       []string  `json:"methods"`
	Since         time.Time `json:"since"` // when Status began
	LastTested    time.Time `json:"last_tested"`
	Tests         int       `json:"tests"`
	BlockedTests  int       `json:"blocked_tests"`
	LastMeasureID string    `json:"last_measure_id"`
}

type keywordKey struct {
	target, word, country string
	asn                   int
}

const keywordCols = `target, word, country, asn, status, methods, since, last_tested, tests, blocked_tests, last_id`

// updateKeywords folds the keyword_test steps of word lists (steps naming
// a word, not mutations) into keyword_state and returns the events of
// words whose status changed. Errors are no test of the word.
func (s *sqlStore) updateKeywords(ctx context.Context, tx *sql.Tx, ms []*model.Measurement) ([]*Event, error) {
	type obs struct {
		k       keywordKey
		blocked bool
		methods []string
		at      time.Time
		id      string
	}
	var all []obs
	var targets []any
	seenT := map[string]bool{}
	for _, m := range ms {
		for _, st := range m.Steps {
			kd := st.Keyword
			if st.Operation != model.OpKeywordTest || kd == nil || kd.Word == "" || kd.Mutation != "" ||
				(kd.Status != model.StatusBlocked && kd.Status != model.StatusOK) {
				continue
			}
			o := obs{k: keywordKey{m.Target, kd.Word, m.Probe.Country, m.Probe.ASN}, blocked: kd.Status == model.StatusBlocked,
				methods: kd.Methods, at: m.StartedAt, id: m.ID}
			all = append(all, o)
			if !seenT[m.Target] {
				seenT[m.Target] = true
				targets = append(targets, m.Target)
			}
		}
	}
	if len(all) == 0 {
		return nil, nil
	}
	states := map[keywordKey]*KeywordState{}
	for start := 0; start < len(targets); start += 500 {
		chunk := targets[start:min(start+500, len(targets))]
		rs, err := tx.QueryContext(ctx, s.q(`SELECT `+keywordCols+` FROM keyword_state WHERE target IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`), chunk...)
		if err != nil {
			return nil, fmt.Errorf("store: keywords: %w", err)
		}
		for rs.Next() {
			ks, err := scanKeyword(rs)
			if err != nil {
				rs.Close()
				return nil, err
			}
			states[keywordKey{ks.Target, ks.Word, ks.Country, ks.ASN}] = ks
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, err
		}
	}
	var events []*Event
	var order []keywordKey
	touched := map[keywordKey]bool{}
	for _, o := range all {
		status := model.StatusOK
		if o.blocked {
			status = model.StatusBlocked
		}
		ks, ok := states[o.k]
		if !ok {
			ks = &KeywordState{Target: o.k.target, Word: o.k.word, Country: o.k.country, ASN: o.k.asn, Status: status, Since: o.at, Methods: []string{}}
			states[o.k] = ks
			if o.blocked {
				events = append(events, keywordEvent(ks, EventKeywordBlocked, model.StatusOK, status, o.methods, o.at, o.id))
			}
		} else if ks.Status != status && !o.at.Before(ks.LastTested) {
			kind := EventKeywordUnblocked
			if o.blocked {
				kind = EventKeywordBlocked
			}
			events = append(events, keywordEvent(ks, kind, ks.Status, status, o.methods, o.at, o.id))
			ks.Status, ks.Since = status, o.at
		}
		if !o.at.Before(ks.LastTested) {
			ks.LastTested, ks.LastMeasureID = o.at, o.id
			ks.Methods = slices.Clone(o.methods)
		}
		ks.Tests++
		if o.blocked {
			ks.BlockedTests++
		}
		if !touched[o.k] {
			touched[o.k] = true
			order = append(order, o.k)
		}
	}
	rows := make([][]any, 0, len(order))
	for _, k := range order {
		ks := states[k]
		rows = append(rows, []any{ks.Target, ks.Word, ks.Country, ks.ASN, ks.Status, encodeMethods(ks.Methods),
			nanos(ks.Since), nanos(ks.LastTested), ks.Tests, ks.BlockedTests, ks.LastMeasureID})
	}
	err := s.values(ctx, tx, `INSERT INTO keyword_state (`+keywordCols+`)`, 11, rows,
		`ON CONFLICT (target, word, country, asn) DO UPDATE SET status = excluded.status, methods = excluded.methods,
		since = excluded.since, last_tested = excluded.last_tested, tests = excluded.tests,
		blocked_tests = excluded.blocked_tests, last_id = excluded.last_id`, nil)
	return events, err
}

func keywordEvent(ks *KeywordState, kind, from, to string, methods []string, at time.Time, id string) *Event {
	old := ks.Methods
	if from == model.StatusOK {
		old = []string{}
	}
	nm := slices.Clone(methods)
	if to == model.StatusOK {
		nm = []string{}
	}
	return &Event{Target: ks.Target, Keyword: ks.Word, Country: ks.Country, ASN: ks.ASN, Kind: kind,
		OldStatus: from, NewStatus: to, OldMethods: old, NewMethods: nm, At: at, MeasureID: id}
}

func scanKeyword(rs *sql.Rows) (*KeywordState, error) {
	ks := &KeywordState{}
	var methods string
	var since, tested int64
	if err := rs.Scan(&ks.Target, &ks.Word, &ks.Country, &ks.ASN, &ks.Status, &methods, &since, &tested, &ks.Tests, &ks.BlockedTests, &ks.LastMeasureID); err != nil {
		return nil, fmt.Errorf("store: keywords: %w", err)
	}
	ks.Methods, ks.Since, ks.LastTested = decodeMethods(methods), fromNanos(since), fromNanos(tested)
	return ks, nil
}

// KeywordStates returns the words tested in target's template, in every
// network, blocked first, then by word.
func (s *sqlStore) KeywordStates(ctx context.Context, target string) ([]KeywordState, error) {
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT `+keywordCols+` FROM keyword_state WHERE target = ?
		ORDER BY CASE status WHEN 'blocked' THEN 0 ELSE 1 END, word, country, asn LIMIT 10000`), target)
	if err != nil {
		return nil, fmt.Errorf("store: keywords: %w", err)
	}
	defer rs.Close()
	out := []KeywordState{}
	for rs.Next() {
		ks, err := scanKeyword(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, *ks)
	}
	return out, rs.Err()
}
