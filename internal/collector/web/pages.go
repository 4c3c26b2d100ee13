package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/firewatch/firewatch/internal/collector/web/params"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store"
	"github.com/firewatch/firewatch/internal/target"
)

const (
	listLimit    = 50
	blockedLimit = 200
	eventsOnHome = 10
)

// badRequest answers a bad parameter with a 400 page naming it.
func (s *server) badRequest(w http.ResponseWriter, r *http.Request, err error) {
	s.errorPage(w, r, http.StatusBadRequest, err.Error())
}

// FilterOptions are the choices of the filter form.
type FilterOptions struct {
	Filter   params.Filter
	Methods  []string
	Statuses []string
	Action   string // form action
}

func newFilterOptions(f params.Filter, action string) FilterOptions {
	return FilterOptions{Filter: f, Methods: model.Methods, Statuses: statuses, Action: action}
}

// pager links to the neighbouring pages of a list.
type pager struct {
	Page     int
	PrevURL  string
	NextURL  string
	HasPrev  bool
	HasNext  bool
	Showing  int
	PageSize int
}

func newPager(path string, f params.Filter, n int, more bool) pager {
	p := pager{Page: f.Page, Showing: n, PageSize: listLimit, HasPrev: f.Page > 1, HasNext: more && f.Page < params.MaxPage}
	link := func(page int) string {
		q := f.Query()
		v := "page=" + itoa(page)
		if q != "" {
			v = q + "&" + v
		}
		return path + "?" + v
	}
	if p.HasPrev {
		p.PrevURL = link(f.Page - 1)
	}
	if p.HasNext {
		p.NextURL = link(f.Page + 1)
	}
	return p
}

type methodCount struct {
	Method string
	Count  int
	W      int // bar width out of 200
}

type overviewData struct {
	FilterOptions
	Overview    store.Overview
	ByMethod    []methodCount
	Chart       chart
	Events      []store.Event
	Blocked     []store.TargetState
	MoreBlocked bool
	Glossary    []methodInfo
}

func (s *server) overview(w http.ResponseWriter, r *http.Request) {
	f, form, err := parseFilter(r.URL.Query())
	if err != nil {
		s.badRequest(w, r, err)
		return
	}
	ctx := r.Context()
	ov, err := s.st.Overview(ctx, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	bf := f
	bf.Status = model.StatusBlocked
	blocked, err := s.st.Targets(ctx, bf, store.Page{Limit: blockedLimit + 1})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ef := f
	ef.Status, ef.Category = "", ""
	events, err := s.st.Events(ctx, ef, store.Page{Limit: eventsOnHome})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := overviewData{FilterOptions: newFilterOptions(form, "/"), Overview: ov, Events: events, Glossary: glossary()}
	if len(blocked) > blockedLimit {
		blocked, d.MoreBlocked = blocked[:blockedLimit], true
	}
	sort.SliceStable(blocked, func(i, j int) bool { return since(blocked[i]).After(since(blocked[j])) })
	d.Blocked = blocked
	maxCount := 0
	for m, n := range ov.ByMethod {
		d.ByMethod = append(d.ByMethod, methodCount{Method: m, Count: n})
		maxCount = max(maxCount, n)
	}
	sort.Slice(d.ByMethod, func(i, j int) bool {
		a, b := d.ByMethod[i], d.ByMethod[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Method < b.Method
	})
	for i := range d.ByMethod {
		d.ByMethod[i].W = max(d.ByMethod[i].Count*200/max(maxCount, 1), 2)
	}
	tl := ov.Timeline
	if len(tl) > 30 {
		tl = tl[len(tl)-30:]
	}
	d.Chart = newChart(tl, "blocked targets",
		func(dc store.DayCount) int { return dc.Targets },
		func(dc store.DayCount) int { return dc.Targets })
	s.render(w, r, http.StatusOK, "overview.html", page{Title: "Overview", Nav: "overview", Search: form.Q, Data: d})
}

func since(t store.TargetState) time.Time {
	if t.BlockedSince != nil {
		return *t.BlockedSince
	}
	return time.Time{}
}

type targetsData struct {
	FilterOptions
	Targets []store.TargetState
	Pager   pager
}

func (s *server) targets(w http.ResponseWriter, r *http.Request) {
	f, form, err := parseFilter(r.URL.Query())
	if err != nil {
		s.badRequest(w, r, err)
		return
	}
	ts, err := s.st.Targets(r.Context(), f, store.Page{Limit: listLimit + 1, Offset: (form.Page - 1) * listLimit})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	more := len(ts) > listLimit
	if more {
		ts = ts[:listLimit]
	}
	d := targetsData{FilterOptions: newFilterOptions(form, "/targets"), Targets: ts, Pager: newPager("/targets", form, len(ts), more)}
	title := "Targets"
	if form.Q != "" {
		title = "Search: " + form.Q
	}
	s.render(w, r, http.StatusOK, "targets.html", page{Title: title, Nav: "targets", Search: form.Q, Data: d})
}

type eventsData struct {
	FilterOptions
	Events  []store.Event
	Pager   pager
	FeedURL string
}

func (s *server) events(w http.ResponseWriter, r *http.Request) {
	f, form, err := parseFilter(r.URL.Query())
	if err != nil {
		s.badRequest(w, r, err)
		return
	}
	es, err := s.st.Events(r.Context(), f, store.Page{Limit: listLimit + 1, Offset: (form.Page - 1) * listLimit})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	more := len(es) > listLimit
	if more {
		es = es[:listLimit]
	}
	feed := url.Values{}
	if f.Country != "" {
		feed.Set("country", f.Country)
	}
	d := eventsData{FilterOptions: newFilterOptions(form, "/events"), Events: es, Pager: newPager("/events", form, len(es), more), FeedURL: "/feed.atom"}
	if len(feed) > 0 {
		d.FeedURL += "?" + feed.Encode()
	}
	s.render(w, r, http.StatusOK, "events.html", page{Title: "Events", Nav: "events", Search: form.Q, Data: d})
}

type targetData struct {
	Target       string
	States       []store.TargetState
	Chart        chart
	Measurements []store.MeasurementRow
	Evidence     *evidence
	Path         *pathView            // the latest trace of the target, if any
	Keywords     []store.KeywordState // words of lists tested in this target's template
	Queued       bool
}

func (s *server) target(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	u := strings.TrimSpace(q.Get("u"))
	if u == "" {
		s.badRequest(w, r, &params.Error{Name: "u", Value: "", Why: "missing: give the target URL, as in /target?u=https://example.org/"})
		return
	}
	if len(u) > params.MaxTargetLen || !params.Printable(u) {
		s.badRequest(w, r, &params.Error{Name: "u", Value: params.Trunc(u, 40), Why: "not a target URL (too long or control characters)"})
		return
	}
	ctx := r.Context()
	states, err := s.st.TargetStates(ctx, u)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(states) == 0 {
		// Perhaps the target was typed rather than copied: try its normalized forms.
		if ts, perr := target.Parse(u); perr == nil {
			for _, t := range ts {
				if n := t.String(); n != u {
					if st2, err := s.st.TargetStates(ctx, n); err == nil && len(st2) > 0 {
						http.Redirect(w, r, "/target?u="+url.QueryEscape(n), http.StatusFound)
						return
					}
				}
			}
		}
		s.errorPage(w, r, http.StatusNotFound, "No measurement of this target is stored: "+params.Trunc(u, 200))
		return
	}
	d := targetData{Target: u, States: states, Queued: q.Get("queued") == "1"}
	tl, err := s.st.Timeline(ctx, u, 30)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Chart = newChart(tl, "tests", func(dc store.DayCount) int { return dc.Tests }, func(dc store.DayCount) int { return dc.Blocked })
	d.Measurements, err = s.st.Measurements(ctx, store.Filter{Target: u}, store.Page{Limit: 20})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Path = s.latestPath(ctx, d.Measurements)
	if d.Keywords, err = s.st.KeywordStates(ctx, u); err != nil {
		s.fail(w, r, err)
		return
	}
	id := strings.TrimSpace(q.Get("m"))
	if id == "" {
		latest := states[0]
		for _, st := range states[1:] {
			if st.LastTested.After(latest.LastTested) {
				latest = st
			}
		}
		id = latest.LastMeasureID
	} else if len(id) > 200 || !params.Printable(id) {
		s.badRequest(w, r, &params.Error{Name: "m", Value: params.Trunc(id, 40), Why: "not a measurement id"})
		return
	}
	if id != "" {
		m, err := s.st.Measurement(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound) && q.Get("m") != "":
			s.errorPage(w, r, http.StatusNotFound, "No measurement with this id: "+params.Trunc(id, 200))
			return
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			s.fail(w, r, err)
			return
		case q.Get("m") != "" && m.Target != u:
			s.errorPage(w, r, http.StatusNotFound, "Measurement "+params.Trunc(id, 200)+" is not a measurement of this target.")
			return
		default:
			d.Evidence = buildEvidence(m)
		}
	}
	s.render(w, r, http.StatusOK, "target.html", page{Title: u, Nav: "targets", Data: d})
}

type measurementData struct {
	M    *model.Measurement
	JSON string
}

func (s *server) measurement(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSpace(r.URL.Query().Get("id"))
	if id == "" || len(id) > 200 || !params.Printable(id) {
		s.badRequest(w, r, &params.Error{Name: "id", Value: params.Trunc(id, 40), Why: "give a measurement id, as in /measurement?id=ID"})
		return
	}
	m, err := s.st.Measurement(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		s.errorPage(w, r, http.StatusNotFound, "No measurement with this id: "+id)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "measurement.html", page{Title: "Measurement " + id, Data: measurementData{M: m, JSON: string(b)}})
}
