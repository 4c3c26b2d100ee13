// Package webhook tells other systems about new events: a Notifier polls
// the store for confirmed status changes and POSTs each one as JSON to every
// configured URL, signed with HMAC-SHA256 and retried with backoff.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/firewatch/firewatch/internal/store"
)

// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>".
const SignatureHeader = "X-Firewatch-Signature"

// Hook is one receiver of events.
type Hook struct {
	URL    string // http or https URL the events are POSTed to
	Secret string // HMAC key of the signature; empty sends no signature
}

// Payload is the JSON body of one delivery.
type Payload struct {
	ID            int64     `json:"id"`
	Kind          string    `json:"kind"` // "blocked", "unblocked", "methods_changed", "keyword_blocked", "keyword_unblocked"
	Target        string    `json:"target"`
	Keyword       string    `json:"keyword,omitempty"` // the word of a keyword_* event
	Country       string    `json:"country"`
	ASN           int       `json:"asn"`
	OldStatus     string    `json:"old_status"`
	NewStatus     string    `json:"new_status"`
	OldMethods    []string  `json:"old_methods"`
	NewMethods    []string  `json:"new_methods"`
	At            time.Time `json:"at"`
	MeasurementID string    `json:"measurement_id"`
	URL           string    `json:"url,omitempty"` // the target's dashboard page, when the public URL is known
}

// Sign returns the signature header value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether header is body's valid signature under secret.
// Receivers written in Go can use it as is.
func Verify(secret string, body []byte, header string) bool {
	return hmac.Equal([]byte(header), []byte(Sign(secret, body)))
}

// ValidateURL checks that a hook URL is an absolute http or https URL.
func ValidateURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("webhook %q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("webhook %q: want an http:// or https:// URL", s)
	}
	return nil
}

// Notifier delivers new events to hooks. Set the fields, then call Run.
type Notifier struct {
	Store store.Store
	Hooks []Hook
	// Interval between polls of the store; 5 s when zero.
	Interval time.Duration
	// Attempts per delivery; 6 when zero.
	Attempts int
	// Backoff before the first retry, doubled each time up to a minute; 1 s when zero.
	Backoff time.Duration
	// Client sends the requests; one with a 10 s timeout when nil.
	Client *http.Client
	// PublicURL, when set, gives each payload a link to the target's page.
	PublicURL string
	// Logger receives delivery failures; slog.Default() when nil.
	Logger *slog.Logger
	// OnDelivery, when set, is called after each delivery with its outcome.
	OnDelivery func(h Hook, p Payload, err error)
}

// Run polls until ctx ends. Events that exist when it starts are not sent:
// only changes confirmed while it runs are. Each hook gets its events in
// order, through its own queue, so a slow receiver delays no other.
func (n *Notifier) Run(ctx context.Context) error {
	if len(n.Hooks) == 0 {
		<-ctx.Done()
		return nil
	}
	if n.Interval <= 0 {
		n.Interval = 5 * time.Second
	}
	if n.Attempts <= 0 {
		n.Attempts = 6
	}
	if n.Backoff <= 0 {
		n.Backoff = time.Second
	}
	if n.Client == nil {
		n.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if n.Logger == nil {
		n.Logger = slog.Default()
	}
	for _, h := range n.Hooks {
		if err := ValidateURL(h.URL); err != nil {
			return err
		}
	}
	queues := make([]chan Payload, len(n.Hooks))
	done := make(chan struct{})
	for i, h := range n.Hooks {
		queues[i] = make(chan Payload, 1024)
		go func() {
			defer func() { done <- struct{}{} }()
			for p := range queues[i] {
				err := n.deliver(ctx, h, p)
				if err != nil {
					n.Logger.Error("webhook delivery failed", "url", h.URL, "event", p.ID, "err", err)
				}
				if n.OnDelivery != nil {
					n.OnDelivery(h, p, err)
				}
			}
		}()
	}
	defer func() {
		for _, q := range queues {
			close(q)
		}
		for range queues {
			<-done
		}
	}()

	last, started := int64(0), false
	tick := time.NewTicker(n.Interval)
	defer tick.Stop()
	for {
		if !started {
			es, err := n.Store.Events(ctx, store.Filter{}, store.Page{Limit: 1})
			if err == nil {
				started = true
				if len(es) > 0 {
					last = es[0].ID
				}
			} else if ctx.Err() == nil {
				n.Logger.Error("webhook: reading events", "err", err)
			}
		} else {
			es, err := n.newEvents(ctx, last)
			if err != nil && ctx.Err() == nil {
				n.Logger.Error("webhook: reading events", "err", err)
			}
			for _, e := range es {
				p := n.payload(e)
				for i, q := range queues {
					select {
					case q <- p:
					default:
						n.Logger.Error("webhook queue full, event dropped", "url", n.Hooks[i].URL, "event", e.ID)
					}
				}
				last = max(last, e.ID)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// newEvents returns the events after last, oldest first.
func (n *Notifier) newEvents(ctx context.Context, last int64) ([]store.Event, error) {
	const pageSize = 100
	var out []store.Event
	for off := 0; off < 100*pageSize; off += pageSize {
		es, err := n.Store.Events(ctx, store.Filter{}, store.Page{Limit: pageSize, Offset: off})
		if err != nil {
			return nil, err
		}
		stop := len(es) < pageSize
		for _, e := range es {
			if e.ID <= last {
				stop = true
				break
			}
			out = append(out, e)
		}
		if stop {
			break
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

func (n *Notifier) payload(e store.Event) Payload {
	p := Payload{ID: e.ID, Kind: e.Kind, Target: e.Target, Keyword: e.Keyword, Country: e.Country, ASN: e.ASN,
		OldStatus: e.OldStatus, NewStatus: e.NewStatus, OldMethods: e.OldMethods, NewMethods: e.NewMethods,
		At: e.At.UTC(), MeasurementID: e.MeasureID}
	if p.OldMethods == nil {
		p.OldMethods = []string{}
	}
	if p.NewMethods == nil {
		p.NewMethods = []string{}
	}
	if n.PublicURL != "" {
		v := url.Values{"u": {e.Target}}
		if e.MeasureID != "" {
			v.Set("m", e.MeasureID)
		}
		p.URL = strings.TrimRight(n.PublicURL, "/") + "/target?" + v.Encode()
	}
	return p
}

// deliver POSTs p to h, retrying failures and non-2xx answers with backoff.
func (n *Notifier) deliver(ctx context.Context, h Hook, p Payload) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	wait := n.Backoff
	var last error
	for attempt := 1; attempt <= n.Attempts; attempt++ {
		last = n.post(ctx, h, p, body, attempt)
		if last == nil {
			return nil
		}
		if attempt == n.Attempts {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %v)", last, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(wait*2, time.Minute)
	}
	return fmt.Errorf("after %d attempts: %w", n.Attempts, last)
}

func (n *Notifier) post(ctx context.Context, h Hook, p Payload, body []byte, attempt int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "firewatch-webhook")
	req.Header.Set("X-Firewatch-Event", p.Kind)
	req.Header.Set("X-Firewatch-Delivery", strconv.FormatInt(p.ID, 10))
	req.Header.Set("X-Firewatch-Attempt", strconv.Itoa(attempt))
	if h.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(h.Secret, body))
	}
	resp, err := n.Client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}
