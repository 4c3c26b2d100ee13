// Package ingest is the collector's upload endpoint, POST /api/v1/measurements:
// probes send batches of measurements (a JSON array or JSON Lines, gzip or
// not) with their token; each batch is validated as a whole and stored
// all-or-nothing, idempotently by measurement id.
package ingest

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/firewatch/firewatch/internal/ratelimit"
	"io"
	"net/http"
	"strings"

	"golang.org/x/time/rate"

	"github.com/firewatch/firewatch/internal/store"
)

// Defaults of Options.
const (
	DefaultMaxBodyBytes = 32 << 20
	DefaultMaxRecords   = 10000
	DefaultRate         = 10 // requests per second per token
	DefaultBurst        = 20
)

// Options bound what one request and one token may do. Zero fields take the
// defaults above.
type Options struct {
	// MaxBodyBytes bounds the request body, both as sent and after gzip
	// decompression (a gzip bomb stops at this size).
	MaxBodyBytes int64
	// MaxRecords bounds the number of records in one request.
	MaxRecords int
	// Rate and Burst limit the requests of each token (x/time/rate).
	Rate  rate.Limit
	Burst int
	// Observe, if set, is called after each request that reached the
	// store, e.g. to count ingested records in metrics.
	Observe func(token string, res Result)
}

// Result is the body of a successful response. Accepted counts the records
// of the batch; Duplicates those already stored (not stored again).
type Result struct {
	Accepted   int `json:"accepted"`
	Inserted   int `json:"inserted"`
	Duplicates int `json:"duplicates"`
}

// ErrorBody is the JSON body of an error response. Record, ID and Field are
// set when one record of the batch is at fault (Record is its 0-based index).
type ErrorBody struct {
	Error  string `json:"error"`
	Record *int   `json:"record,omitempty"`
	ID     string `json:"id,omitempty"`
	Field  string `json:"field,omitempty"`
}

type handler struct {
	st   store.Store
	opts Options

	limits *ratelimit.Keyed // per token
}

// Handler returns the ingest handler. Mount it for POST /api/v1/measurements
// (it answers 405 to other methods). Responses: 200 with a Result; 400 with
// an ErrorBody naming the bad record and field (nothing of the batch is
// stored); 401 for a missing, unknown or revoked token; 413 for a body or
// batch over the limits; 415 for an unknown Content-Encoding; 429 when the
// token's rate is exceeded; 500 when the store fails.
func Handler(st store.Store, opts Options) http.Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxRecords <= 0 {
		opts.MaxRecords = DefaultMaxRecords
	}
	if opts.Rate == 0 {
		opts.Rate = DefaultRate
	}
	if opts.Burst <= 0 {
		opts.Burst = DefaultBurst
	}
	return &handler{st: st, opts: opts, limits: &ratelimit.Keyed{Rate: opts.Rate, Burst: opts.Burst}}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, ErrorBody{Error: fmt.Sprintf(format, args...)})
}

// Bearer returns the token of an "Authorization: Bearer TOKEN" header.
func Bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, body, ok := h.receive(w, r)
	if !ok {
		return
	}
	ms, err := Parse(body, h.opts.MaxRecords)
	if err != nil {
		failBatch(w, err)
		return
	}
	for i, m := range ms {
		if err := Validate(m); err != nil {
			re := &RecordError{Index: i, ID: m.ID, Err: err}
			var fe *FieldError
			if errors.As(err, &fe) {
				re.Field = fe.Field
			}
			writeJSON(w, http.StatusBadRequest, ErrorBody{Error: re.Error(), Record: &i, ID: m.ID, Field: re.Field})
			return
		}
	}
	n, err := h.st.Insert(r.Context(), ms)
	if err != nil {
		fail(w, http.StatusInternalServerError, "storing the batch failed")
		return
	}
	res := Result{Accepted: len(ms), Inserted: n, Duplicates: len(ms) - n}
	if h.opts.Observe != nil {
		h.opts.Observe(name, res)
	}
	writeJSON(w, http.StatusOK, res)
}

// receive takes a batch: a POST with a valid token within its rate, and
// its body within the limits. On failure it has answered and ok is false.
func (h *handler) receive(w http.ResponseWriter, r *http.Request) (name string, body []byte, ok bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(w, http.StatusMethodNotAllowed, "use POST")
		return "", nil, false
	}
	if name, ok = h.authenticate(w, r); !ok {
		return "", nil, false
	}
	body, code, err := h.readBody(w, r)
	if err != nil {
		fail(w, code, "%v", err)
		return "", nil, false
	}
	return name, body, true
}

// failBatch answers a batch that did not parse: 413 for too many records,
// 400 naming the record and field at fault, else 400 with the error.
func failBatch(w http.ResponseWriter, err error) {
	var re *RecordError
	switch {
	case errors.Is(err, ErrTooManyRecords):
		fail(w, http.StatusRequestEntityTooLarge, "%v", err)
	case errors.As(err, &re):
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: re.Error(), Record: &re.Index, ID: re.ID, Field: re.Field})
	default:
		fail(w, http.StatusBadRequest, "%v", err)
	}
}

// authenticate checks the request's token and its rate; on failure it has
// answered and ok is false.
func (h *handler) authenticate(w http.ResponseWriter, r *http.Request) (name string, ok bool) {
	secret := Bearer(r)
	if secret == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="firewatch"`)
		fail(w, http.StatusUnauthorized, "missing Authorization: Bearer TOKEN")
		return "", false
	}
	name, err := h.st.Authenticate(r.Context(), secret)
	if errors.Is(err, store.ErrNotFound) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="firewatch", error="invalid_token"`)
		fail(w, http.StatusUnauthorized, "invalid or revoked token")
		return "", false
	}
	if err != nil {
		fail(w, http.StatusInternalServerError, "authentication failed")
		return "", false
	}
	if !h.limits.Allow(name) {
		w.Header().Set("Retry-After", "1")
		fail(w, http.StatusTooManyRequests, "rate limit exceeded for token %q", name)
		return "", false
	}
	return name, true
}

// readBody reads the whole body within MaxBodyBytes, decompressing gzip.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, error) {
	max := h.opts.MaxBodyBytes
	if r.ContentLength > max {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body of %d bytes exceeds the limit of %d", r.ContentLength, max)
	}
	var src io.Reader = http.MaxBytesReader(w, r.Body, max)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, readErrCode(err), fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		src = zr
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("unsupported Content-Encoding %q (want gzip or none)", clip(enc))
	}
	body, err := io.ReadAll(io.LimitReader(src, max+1))
	if err != nil {
		return nil, readErrCode(err), fmt.Errorf("reading body: %w", err)
	}
	if int64(len(body)) > max {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("decompressed body exceeds the limit of %d bytes", max)
	}
	return body, 0, nil
}

func readErrCode(err error) int {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}
