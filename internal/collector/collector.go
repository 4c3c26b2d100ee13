// Package collector assembles the collector's HTTP service: the public
// dashboard and feeds (package web), measurement ingest and the JSON API
// (packages ingest and api), /healthz and /metrics, behind one handler that
// recovers panics and counts requests. Webhooks run beside it (RunWebhooks).
package collector

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/firewatch/firewatch/internal/collector/ingest"
	"github.com/firewatch/firewatch/internal/collector/web"
	"github.com/firewatch/firewatch/internal/collector/webhook"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store"
)

// Webhook is a receiver of events: URL and HMAC secret.
type Webhook = webhook.Hook

// Config configures the collector's HTTP service.
type Config struct {
	// AdminPassword is the operators' password; empty disables sign-in.
	AdminPassword string
	// SessionKey signs operator sessions; random when empty.
	SessionKey []byte
	// PublicURL is the collector's absolute URL, used in feeds and webhook
	// payloads; derived from each request when empty.
	PublicURL string
	// SecureCookies marks cookies Secure (when served over HTTPS).
	SecureCookies bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the
	// client (failed sign-ins are limited per client address).
	TrustedProxies []netip.Prefix
	// Webhooks receive every new event (see RunWebhooks).
	Webhooks []Webhook
	// WebhookInterval is how often the store is polled for new events; 5 s when zero.
	WebhookInterval time.Duration
	// QueueLease is how long an agent holds the "test now" items it takes
	// before they are handed out again (2 minutes when zero).
	QueueLease time.Duration
	// MaxExports bounds the exports running at once (2 when zero).
	MaxExports int
	// Ingest bounds uploads (body size, records, rate per token).
	Ingest ingest.Options
	// Registry receives the collector's metrics and is served on /metrics;
	// a new registry when nil.
	Registry *prometheus.Registry
	// Logger receives errors; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// New returns the collector's HTTP handler over st.
func New(st store.Store, cfg Config) http.Handler {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := newMetrics(reg)

	mux := http.NewServeMux()
	// Ingest gets a store that counts insertions; the API gets st itself so
	// that it sees st's optional interfaces (export).
	mountAPI(mux, st, &countingStore{Store: st, inserted: m.inserted}, cfg, log)
	mux.Handle("GET /healthz", healthz(st))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.Handle("/", web.Handler(st, web.Options{
		AdminPassword: cfg.AdminPassword, SessionKey: cfg.SessionKey, PublicURL: cfg.PublicURL,
		SecureCookies: cfg.SecureCookies, TrustedProxies: cfg.TrustedProxies, Logger: log, Now: cfg.Now,
	}))
	return m.instrument(web.Recover(log, headers(mux)))
}

// headers sets the headers every response carries, API included.
func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// healthz answers 200 "ok" when the store answers a query, 503 otherwise.
func healthz(st store.Store) http.Handler {
	type pinger interface{ Ping(context.Context) error }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		var err error
		if p, ok := st.(pinger); ok {
			err = p.Ping(ctx)
		} else {
			_, err = st.Measurements(ctx, store.Filter{}, store.Page{Limit: 1})
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("store unreachable\n"))
			return
		}
		w.Write([]byte("ok\n"))
	})
}

// RunWebhooks delivers new events to cfg.Webhooks until ctx ends. It
// returns at once with nil when there is no webhook, and with an error when
// a webhook URL is invalid.
func RunWebhooks(ctx context.Context, st store.Store, cfg Config) error {
	if len(cfg.Webhooks) == 0 {
		return nil
	}
	n := &webhook.Notifier{Store: st, Hooks: cfg.Webhooks, Interval: cfg.WebhookInterval,
		PublicURL: cfg.PublicURL, Logger: cfg.Logger}
	return n.Run(ctx)
}

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inserted prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firewatch_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "firewatch_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		inserted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firewatch_measurements_ingested_total", Help: "Measurements newly stored by ingest.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.inserted)
	return m
}

// instrument counts requests by the route pattern that served them (set by
// the ServeMux on the request) and status code.
func (m *metrics) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" || route == "/" {
			route = "other"
		}
		m.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	code    int
	written bool
}

// WriteHeader records the first status code.
func (w *statusWriter) WriteHeader(code int) {
	if !w.written {
		w.code, w.written = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write marks the status as sent (200 unless set before).
func (w *statusWriter) Write(b []byte) (int, error) {
	w.written = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countingStore counts the measurements Insert newly stores.
type countingStore struct {
	store.Store
	inserted prometheus.Counter
}

// Insert stores ms and counts the new ones.
func (s *countingStore) Insert(ctx context.Context, ms []*model.Measurement) (int, error) {
	n, err := s.Store.Insert(ctx, ms)
	s.inserted.Add(float64(n))
	return n, err
}
