// Package api is the collector's public JSON API under /api/v1/: targets and
// their history per network, timelines, events and measurements (paginated),
// CSV and JSON Lines export, and the "test now" queue that agents take work
// from. docs/collector.md is its reference.
package api

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store"
)

// Limits of list and export sizes.
const (
	DefaultLimit      = 50
	MaxLimit          = 1000
	DefaultExportRows = 100_000
	MaxExportRows     = 1_000_000
	MaxTake           = 100
)

// List is the envelope of a paginated list. NextOffset is set when another
// page may follow.
type List[T any] struct {
	Items      []T  `json:"items"`
	Limit      int  `json:"limit"`
	Offset     int  `json:"offset"`
	NextOffset *int `json:"next_offset,omitempty"`
}

// TargetStates is the body of GET /api/v1/targets/state.
type TargetStates struct {
	Target string              `json:"target"`
	States []store.TargetState `json:"states"`
}

// Timeline is the body of GET /api/v1/timeline.
type Timeline struct {
	Target string           `json:"target,omitempty"`
	Days   []store.DayCount `json:"days"`
}

// Take is the body of POST /api/v1/queue/take.
type Take struct {
	Items []store.QueueItem `json:"items"`
}

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`
}

// DefaultMaxExports is how many exports run at once when Options.MaxExports is 0.
const DefaultMaxExports = 2

// ExportRetryAfter is the Retry-After, in seconds, of an export refused
// because MaxExports are running.
const ExportRetryAfter = 10

// Options configure the API. Zero fields take the defaults.
type Options struct {
	// QueueLease is how long an agent holds the queue items it takes
	// before they are handed out again (store.DefaultLease when 0).
	QueueLease time.Duration
	// MaxExports bounds the exports (GET /api/v1/export) running at once;
	// more get 429 with Retry-After (DefaultMaxExports when 0).
	MaxExports int
	// ExportStall is how long an export may wait on its client for one
	// write before it is cut, freeing its place (1 minute when 0).
	ExportStall time.Duration
}

type api struct {
	st      store.Store
	opts    Options
	exports chan struct{} // one token per running export
}

// Handler returns the API handler. It serves the full paths
// (/api/v1/targets, ...), so mount it with mux.Handle("/api/v1/", h); the
// ingest handler is mounted separately for POST /api/v1/measurements.
func Handler(st store.Store, opts Options) http.Handler {
	if opts.QueueLease <= 0 {
		opts.QueueLease = store.DefaultLease
	}
	if opts.MaxExports <= 0 {
		opts.MaxExports = DefaultMaxExports
	}
	if opts.ExportStall <= 0 {
		opts.ExportStall = time.Minute
	}
	a := &api{st: st, opts: opts, exports: make(chan struct{}, opts.MaxExports)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/overview", a.overview)
	mux.HandleFunc("GET /api/v1/targets", listed(parseList, st.Targets))
	mux.HandleFunc("GET /api/v1/targets/state", a.targetState)
	mux.HandleFunc("GET /api/v1/timeline", a.timeline)
	mux.HandleFunc("GET /api/v1/keywords", a.keywords)
	mux.HandleFunc("GET /api/v1/events", listed(parseList, st.Events))
	mux.HandleFunc("GET /api/v1/measurements", listed(parseList, st.Measurements))
	mux.HandleFunc("GET /api/v1/measurements/{id}", a.measurement)
	mux.HandleFunc("GET /api/v1/export", a.export)
	mux.HandleFunc("POST /api/v1/queue/take", a.take)
	a.mountDNS(mux)
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "no such API endpoint: %s %s", r.Method, r.URL.Path)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	enc.Encode(v)
}

func fail(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, Error{Error: fmt.Sprintf(format, args...)})
}

func storeErr(w http.ResponseWriter, err error) {
	if errors.Is(err, store.ErrNotFound) {
		fail(w, http.StatusNotFound, "%v", err)
		return
	}
	fail(w, http.StatusInternalServerError, "storage error")
}

// ParseFilter reads the filter parameters of a request: target, q, country,
// asn, method, category, status, since (RFC 3339 or YYYY-MM-DD).
func ParseFilter(r *http.Request) (store.Filter, error) {
	q := r.URL.Query()
	f := store.Filter{
		Target:   q.Get("target"),
		Query:    q.Get("q"),
		Country:  strings.ToUpper(q.Get("country")),
		Method:   q.Get("method"),
		Category: q.Get("category"),
		Status:   q.Get("status"),
	}
	if v := q.Get("asn"); v != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(strings.ToUpper(v), "AS"))
		if err != nil || n < 0 {
			return f, fmt.Errorf("parameter asn: %q is not an AS number", v)
		}
		f.ASN = n
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			t, err = time.Parse("2006-01-02", v)
		}
		if err != nil {
			return f, fmt.Errorf("parameter since: %q is not RFC 3339 or YYYY-MM-DD", v)
		}
		f.Since = t
	}
	if f.Method != "" && !validMethod(f.Method) {
		return f, fmt.Errorf("parameter method: %q is not a known method", f.Method)
	}
	return f, nil
}

func validMethod(m string) bool {
	for _, x := range model.Methods {
		if x == m {
			return true
		}
	}
	return false
}

func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("parameter %s: %q is not an integer in %d..%d", name, v, lo, hi)
	}
	return n, nil
}

// parseList reads the filter and the page (limit, offset).
func parseList(r *http.Request) (store.Filter, store.Page, error) {
	f, err := ParseFilter(r)
	if err != nil {
		return f, store.Page{}, err
	}
	l, err := intParam(r, "limit", DefaultLimit, 1, MaxLimit)
	if err != nil {
		return f, store.Page{}, err
	}
	o, err := intParam(r, "offset", 0, 0, 1<<31-1)
	if err != nil {
		return f, store.Page{}, err
	}
	return f, store.Page{Limit: l, Offset: o}, nil
}

func list[T any](w http.ResponseWriter, items []T, p store.Page) {
	out := List[T]{Items: items, Limit: p.Limit, Offset: p.Offset}
	if out.Items == nil {
		out.Items = []T{}
	}
	if len(items) == p.Limit {
		n := p.Offset + p.Limit
		out.NextOffset = &n
	}
	writeJSON(w, http.StatusOK, out)
}

// listed is the handler of a paginated list: its parameters read by parse,
// a page of rows from query.
func listed[F, T any](parse func(*http.Request) (F, store.Page, error), query func(context.Context, F, store.Page) ([]T, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, p, err := parse(r)
		if err != nil {
			fail(w, http.StatusBadRequest, "%v", err)
			return
		}
		items, err := query(r.Context(), f, p)
		if err != nil {
			storeErr(w, err)
			return
		}
		list(w, items, p)
	}
}

// exportSlot takes one of the MaxExports places of running exports, or
// answers 429 with Retry-After and returns false. release frees the place.
func (a *api) exportSlot(w http.ResponseWriter) (release func(), ok bool) {
	select {
	case a.exports <- struct{}{}:
		return func() { <-a.exports }, true
	default:
		w.Header().Set("Retry-After", strconv.Itoa(ExportRetryAfter))
		fail(w, http.StatusTooManyRequests, "%d exports are running, the most this collector serves at once: retry in %d s", a.opts.MaxExports, ExportRetryAfter)
		return nil, false
	}
}

func (a *api) overview(w http.ResponseWriter, r *http.Request) {
	f, err := ParseFilter(r)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	ov, err := a.st.Overview(r.Context(), f)
	if err != nil {
		storeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ov)
}

func (a *api) targetState(w http.ResponseWriter, r *http.Request) {
	target := r.URL.Query().Get("target")
	if target == "" {
		fail(w, http.StatusBadRequest, "parameter target is required")
		return
	}
	ts, err := a.st.TargetStates(r.Context(), target)
	if err != nil {
		storeErr(w, err)
		return
	}
	if len(ts) == 0 {
		fail(w, http.StatusNotFound, "target %q has no measurements", target)
		return
	}
	writeJSON(w, http.StatusOK, TargetStates{Target: ts[0].Target, States: ts})
}

// Keywords is the answer of /api/v1/keywords: the words tested in one
// template (firewatch keywords test), blocked first.
type Keywords struct {
	Target   string               `json:"target"`
	Keywords []store.KeywordState `json:"keywords"`
}

func (a *api) keywords(w http.ResponseWriter, r *http.Request) {
	target := r.URL.Query().Get("target")
	if target == "" {
		fail(w, http.StatusBadRequest, "parameter target is required (the template's base target, e.g. http://host/search?q=)")
		return
	}
	ks, err := a.st.KeywordStates(r.Context(), target)
	if err != nil {
		storeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, Keywords{Target: target, Keywords: ks})
}

func (a *api) timeline(w http.ResponseWriter, r *http.Request) {
	days, err := intParam(r, "days", 30, 1, 3660)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	target := r.URL.Query().Get("target")
	tl, err := a.st.Timeline(r.Context(), target, days)
	if err != nil {
		storeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, Timeline{Target: target, Days: tl})
}

func (a *api) measurement(w http.ResponseWriter, r *http.Request) {
	m, err := a.st.Measurement(r.Context(), r.PathValue("id"))
	if err != nil {
		storeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// take leases queued targets to an agent authenticated by its probe token:
// an item not measured within the lease is handed out again.
func (a *api) take(w http.ResponseWriter, r *http.Request) {
	h := r.Header.Get("Authorization")
	secret := ""
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		secret = strings.TrimSpace(h[7:])
	}
	name, err := a.st.Authenticate(r.Context(), secret)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="firewatch"`)
			fail(w, http.StatusUnauthorized, "missing, invalid or revoked token")
			return
		}
		storeErr(w, err)
		return
	}
	n, err := intParam(r, "max", 1, 1, MaxTake)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	if r.ContentLength != 0 && r.Body != nil {
		var body struct {
			Max int `json:"max"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
		if err := dec.Decode(&body); err == nil && body.Max > 0 {
			n = min(body.Max, MaxTake)
		}
	}
	items, err := a.st.Dequeue(r.Context(), name, n, a.opts.QueueLease)
	if err != nil {
		storeErr(w, err)
		return
	}
	if items == nil {
		items = []store.QueueItem{}
	}
	writeJSON(w, http.StatusOK, Take{Items: items})
}

// CSVHeader is the first line of a CSV export.
var CSVHeader = []string{"id", "target", "category", "country", "asn", "started_at", "status", "methods"}

// export streams measurements as CSV or JSON Lines. At most MaxExports run
// at once; the store is read in pages so that no database connection is
// held while the client reads, and a client that stalls one write for
// ExportStall is cut.
func (a *api) export(w http.ResponseWriter, r *http.Request) {
	release, ok := a.exportSlot(w)
	if !ok {
		return
	}
	defer release()
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "jsonl"
	}
	if format != "csv" && format != "jsonl" {
		fail(w, http.StatusBadRequest, "parameter format: %q, want csv or jsonl", format)
		return
	}
	f, err := ParseFilter(r)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	limit, err := intParam(r, "limit", DefaultExportRows, 1, MaxExportRows)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	var emit func(store.MeasurementRow, *model.Measurement) error
	var flush func()
	switch format {
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="firewatch-measurements.csv"`)
		cw := csv.NewWriter(w)
		cw.Write(CSVHeader)
		emit = func(row store.MeasurementRow, _ *model.Measurement) error {
			return cw.Write([]string{cell(row.ID), cell(row.Target), cell(row.Category), row.Country, strconv.Itoa(row.ASN),
				row.StartedAt.UTC().Format(time.RFC3339Nano), row.Status, strings.Join(row.Methods, " ")})
		}
		flush = cw.Flush
	default:
		w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="firewatch-measurements.jsonl"`)
		enc := json.NewEncoder(w)
		emit = func(_ store.MeasurementRow, m *model.Measurement) error { return enc.Encode(m) }
		flush = func() {}
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	ctx := r.Context()
	rc := http.NewResponseController(w)
	var extended time.Time
	every := min(time.Second, a.opts.ExportStall/4)
	send := func(row store.MeasurementRow, m *model.Measurement) error {
		if now := time.Now(); now.Sub(extended) > every {
			// The deadline of each write, not of the whole export: a slow
			// client that keeps reading may take as long as it needs.
			extended = now
			rc.SetWriteDeadline(now.Add(a.opts.ExportStall))
		}
		return emit(row, m)
	}
	if ex, ok := a.st.(store.Exporter); ok {
		ex.Export(ctx, f, limit, func(m *model.Measurement) error {
			return send(rowOf(m), m)
		})
		flush()
		return
	}
	// Generic path: page through the list (and fetch whole records for JSON Lines).
	for off := 0; off < limit; off += MaxLimit {
		rows, err := a.st.Measurements(ctx, f, store.Page{Limit: min(MaxLimit, limit-off), Offset: off})
		if err != nil {
			break
		}
		for _, row := range rows {
			var m *model.Measurement
			if format == "jsonl" {
				if m, err = a.st.Measurement(ctx, row.ID); err != nil {
					continue
				}
			}
			if send(row, m) != nil {
				flush()
				return
			}
		}
		if len(rows) < MaxLimit {
			break
		}
	}
	flush()
}

func rowOf(m *model.Measurement) store.MeasurementRow {
	methods := m.Methods
	if methods == nil {
		methods = []string{}
	}
	return store.MeasurementRow{ID: m.ID, Target: m.Target, Category: m.Category, Country: m.Probe.Country, ASN: m.Probe.ASN,
		StartedAt: m.StartedAt, Status: m.Status, Methods: methods}
}

// cell defuses spreadsheet formulas in untrusted text.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
