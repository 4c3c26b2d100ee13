package upload

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firewatch/firewatch/internal/model"
)

// IngestPath is the collector's upload endpoint, appended to an Uploader URL
// that has no path.
const IngestPath = "/api/v1/measurements"

// Uploader sends the spool's records to a collector. Zero fields take
// defaults: Batch 500, HTTP a client with a 2-minute timeout, MinBackoff 1s,
// MaxBackoff 5min, Poll 5s, Linger 1s.
type Uploader struct {
	URL   string // collector base URL, or the full ingest URL
	Token string
	Spool *Spool
	Batch int
	HTTP  *http.Client

	MinBackoff, MaxBackoff time.Duration
	Poll                   time.Duration // how often an idle Run looks at the spool
	// Linger is how long Run lets records gather after sending a partial
	// batch, so that a probe spooling records one by one sends batches, not
	// one request per record (which the collector's rate limit refuses).
	Linger time.Duration
	Logf   func(format string, args ...any)

	mu     sync.Mutex // one upload pass at a time
	once   sync.Once
	notify chan struct{}

	statsMu sync.Mutex
	stats   Stats
}

// Stats counts what an Uploader did since it was made.
type Stats struct {
	Uploaded   int // records the collector acknowledged
	Duplicates int // of those, records it already held (an earlier lost acknowledgement)
	Rejected   int // records it refused as invalid, moved to the spool's rejected/
}

// Stats returns the counts so far.
func (u *Uploader) Stats() Stats {
	u.statsMu.Lock()
	defer u.statsMu.Unlock()
	return u.stats
}

func (u *Uploader) count(f func(*Stats)) {
	u.statsMu.Lock()
	f(&u.stats)
	u.statsMu.Unlock()
}

// Status says in a sentence what the uploader did and what waits: records
// acknowledged, records refused (where they are, with the reason beside
// each) and records still spooled.
func (u *Uploader) Status() string {
	st := u.Stats()
	s := fmt.Sprintf("%d uploaded", st.Uploaded)
	if st.Duplicates > 0 {
		s += fmt.Sprintf(" (%d already stored)", st.Duplicates)
	}
	if rej, _ := u.Spool.Rejected(); st.Rejected > 0 || len(rej) > 0 {
		s += fmt.Sprintf(", %d refused as invalid", st.Rejected)
		if len(rej) > st.Rejected {
			s += fmt.Sprintf(" (%d in all)", len(rej))
		}
		s += fmt.Sprintf(": kept in %s with the reason beside each", filepath.Join(u.Spool.Dir, RejectedDir))
	}
	if n := u.Spool.Len(); n > 0 {
		s += fmt.Sprintf(", %d waiting in %s", n, u.Spool.Dir)
	}
	return s
}

// errRetry marks failures worth retrying later (collector down, 5xx, 429,
// 401); after is the collector's Retry-After, if it said one.
type errRetry struct {
	err   error
	after time.Duration
}

func (e errRetry) Error() string { return e.err.Error() }
func (e errRetry) Unwrap() error { return e.err }

func (u *Uploader) init() {
	u.once.Do(func() {
		u.notify = make(chan struct{}, 1)
		if u.Batch <= 0 {
			u.Batch = 500
		}
		if u.HTTP == nil {
			u.HTTP = &http.Client{Timeout: 2 * time.Minute}
		}
		if u.MinBackoff <= 0 {
			u.MinBackoff = time.Second
		}
		if u.MaxBackoff <= 0 {
			u.MaxBackoff = 5 * time.Minute
		}
		if u.Poll <= 0 {
			u.Poll = 5 * time.Second
		}
		if u.Linger <= 0 {
			u.Linger = time.Second
		}
	})
}

func (u *Uploader) logf(format string, args ...any) {
	if u.Logf != nil {
		u.Logf(format, args...)
	}
}

// Notify wakes a waiting Run (called after a Put).
func (u *Uploader) Notify() {
	u.init()
	select {
	case u.notify <- struct{}{}:
	default:
	}
}

func (u *Uploader) endpoint() (string, error) {
	p, err := url.Parse(u.URL)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return "", fmt.Errorf("upload: collector URL %q: want http(s)://HOST[:PORT][/api/v1/measurements]", u.URL)
	}
	if p.Path == "" || p.Path == "/" {
		p.Path = IngestPath
	}
	return p.String(), nil
}

// Run uploads the spool until ctx is done, waking on Notify or every Poll,
// retrying with exponential backoff and jitter while the collector is
// unreachable. It returns ctx's error, or a configuration error.
func (u *Uploader) Run(ctx context.Context) error {
	u.init()
	if _, err := u.endpoint(); err != nil {
		return err
	}
	backoff := u.MinBackoff
	for {
		sent, err := u.pass(ctx)
		wait, wake := u.Poll, u.notify
		switch {
		case err != nil && ctx.Err() == nil:
			wait = u.retryWait(err, &backoff)
			u.logf("upload: %v; retrying in %v", err, wait.Round(time.Millisecond))
			wake = nil
		case err == nil && sent == u.Batch:
			backoff, wait = u.MinBackoff, 0
		case err == nil && sent > 0:
			backoff, wait, wake = u.MinBackoff, u.Linger, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// retryWait is how long to wait after err: the collector's Retry-After when
// it said one (it is busy, not down: the backoff stays), else the backoff
// with jitter, which doubles up to MaxBackoff.
func (u *Uploader) retryWait(err error, backoff *time.Duration) time.Duration {
	var r errRetry
	if errors.As(err, &r) && r.after > 0 {
		return r.after + jitter(r.after)/2
	}
	w := jitter(*backoff)
	*backoff = min(*backoff*2, u.MaxBackoff)
	return w
}

// Flush uploads until the spool is empty (rejected records excepted),
// retrying with backoff, or until ctx is done: then it returns an error
// saying how many records stay in the spool for a later run.
func (u *Uploader) Flush(ctx context.Context) error {
	u.init()
	if _, err := u.endpoint(); err != nil {
		return err
	}
	backoff := u.MinBackoff
	for {
		sent, err := u.pass(ctx)
		if err == nil && sent == 0 {
			return nil
		}
		if err == nil {
			backoff = u.MinBackoff
			continue
		}
		if ctx.Err() != nil {
			return fmt.Errorf("upload: %d records remain in %s for the next upload: %w", u.Spool.Len(), u.Spool.Dir, err)
		}
		wait := u.retryWait(err, &backoff)
		u.logf("upload: %v; retrying in %v", err, wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("upload: %d records remain in %s for the next upload: %w", u.Spool.Len(), u.Spool.Dir, err)
		case <-t.C:
		}
	}
}

// jitter returns a duration uniformly in [d/2, d).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// pass uploads one batch from the spool. It reports how many spooled
// records it took (0: the spool was empty; Batch: more may wait); an error
// means the batch should be retried later.
func (u *Uploader) pass(ctx context.Context) (taken int, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	names, err := u.Spool.List()
	if err != nil {
		return 0, err
	}
	if len(names) == 0 {
		return 0, nil
	}
	if len(names) > u.Batch {
		names = names[:u.Batch]
	}
	var recs []record
	for _, n := range names {
		b, err := u.Spool.Read(n)
		if err != nil {
			return 0, err
		}
		var m model.Measurement
		if err := json.Unmarshal(b, &m); err != nil {
			if err := u.reject(n, "unreadable spool file: "+err.Error()); err != nil {
				return 0, err
			}
			continue
		}
		recs = append(recs, record{name: n, line: bytes.TrimSpace(b)})
	}
	return len(names), u.send(ctx, recs)
}

type record struct {
	name string
	line []byte
}

// send uploads recs as one batch. On a 400 it rejects the record the
// collector named and sends the rest again; without a name (or on 413) it
// splits the batch in halves, down to single records.
func (u *Uploader) send(ctx context.Context, recs []record) error {
	if len(recs) == 0 {
		return nil
	}
	code, body, after, err := u.post(ctx, recs)
	if err != nil {
		return errRetry{err: err}
	}
	switch {
	case code >= 200 && code < 300:
		names := make([]string, len(recs))
		for i, r := range recs {
			names[i] = r.name
		}
		if err := u.Spool.Remove(names...); err != nil {
			return err
		}
		var res struct {
			Duplicates int `json:"duplicates"`
		}
		json.Unmarshal(body, &res)
		u.count(func(s *Stats) { s.Uploaded += len(recs); s.Duplicates += res.Duplicates })
		return nil
	case code == http.StatusBadRequest || code == http.StatusRequestEntityTooLarge:
		var eb struct {
			Error  string `json:"error"`
			Record *int   `json:"record"`
		}
		json.Unmarshal(body, &eb)
		if eb.Error == "" {
			eb.Error = strings.TrimSpace(string(body))
		}
		reason := fmt.Sprintf("HTTP %d: %s", code, eb.Error)
		if code == http.StatusBadRequest && eb.Record != nil && *eb.Record >= 0 && *eb.Record < len(recs) {
			i := *eb.Record
			if err := u.reject(recs[i].name, reason); err != nil {
				return err
			}
			rest := append(append([]record{}, recs[:i]...), recs[i+1:]...)
			return u.send(ctx, rest)
		}
		if len(recs) == 1 {
			return u.reject(recs[0].name, reason)
		}
		half := len(recs) / 2
		if err := u.send(ctx, recs[:half]); err != nil {
			return err
		}
		return u.send(ctx, recs[half:])
	default:
		return errRetry{err: fmt.Errorf("collector answered HTTP %d: %s", code, strings.TrimSpace(string(body))), after: after}
	}
}

// reject moves a record the collector refused to rejected/, says so and
// counts it.
func (u *Uploader) reject(name, reason string) error {
	if err := u.Spool.Reject(name, reason); err != nil {
		return err
	}
	u.count(func(s *Stats) { s.Rejected++ })
	u.logf("collector refused %s: %s; moved to %s", name, reason, filepath.Join(u.Spool.Dir, RejectedDir))
	return nil
}

// maxRetryAfter bounds how long a collector's Retry-After can make the
// uploader wait.
const maxRetryAfter = 5 * time.Minute

// post sends recs and returns the status, the body and the Retry-After.
func (u *Uploader) post(ctx context.Context, recs []record) (int, []byte, time.Duration, error) {
	ep, err := u.endpoint()
	if err != nil {
		return 0, nil, 0, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for _, r := range recs {
		zw.Write(r.line)
		zw.Write([]byte{'\n'})
	}
	if err := zw.Close(); err != nil {
		return 0, nil, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep, &buf)
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Authorization", "Bearer "+u.Token)
	resp, err := u.HTTP.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil && resp.StatusCode/100 == 2 {
		// The acknowledgement was lost: keep the records, send them again
		// (the collector is idempotent by id).
		return 0, nil, 0, err
	}
	var after time.Duration
	if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
		after = min(time.Duration(n)*time.Second, maxRetryAfter)
	}
	return resp.StatusCode, body, after, nil
}

// IsRetryable reports whether err is a transient upload failure.
func IsRetryable(err error) bool {
	var r errRetry
	return errors.As(err, &r)
}

// Sink spools each record and uploads in the background: it implements the
// runner's Sink (Write, Close) for `firewatch run --upload URL --token T`.
type Sink struct {
	u            *Uploader
	cancel       context.CancelFunc
	done         chan struct{}
	FlushTimeout time.Duration // how long Close tries to drain the spool; default 1 minute
}

// NewSink starts u.Run in the background and returns the sink.
func NewSink(ctx context.Context, u *Uploader) *Sink {
	u.init()
	ctx, cancel := context.WithCancel(ctx)
	s := &Sink{u: u, cancel: cancel, done: make(chan struct{}), FlushTimeout: time.Minute}
	go func() {
		defer close(s.done)
		u.Run(ctx)
	}()
	return s
}

// Status is the uploader's Status.
func (s *Sink) Status() string { return s.u.Status() }

// Write spools m (durably) and wakes the uploader.
func (s *Sink) Write(m *model.Measurement) error {
	if err := s.u.Spool.Put(m); err != nil {
		return err
	}
	s.u.Notify()
	return nil
}

// Close drains the spool for at most FlushTimeout, then stops the
// background uploader. A pass already sending finishes rather than being
// cut (which would make the collector count the batch twice). Records not
// acknowledged stay in the spool (an error says how many) and are uploaded
// by the next run.
func (s *Sink) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.FlushTimeout)
	defer cancel()
	err := s.u.Flush(ctx)
	s.cancel()
	<-s.done
	return err
}
