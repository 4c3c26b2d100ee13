package collector

import (
	"log/slog"
	"net/http"

	"github.com/firewatch/firewatch/internal/collector/api"
	"github.com/firewatch/firewatch/internal/collector/ingest"
	"github.com/firewatch/firewatch/internal/store"
)

// mountAPI mounts measurement ingest (POST /api/v1/measurements), DNS scan
// ingest (POST /api/v1/dns) and the
// JSON API under /api/v1/.
func mountAPI(mux *http.ServeMux, st, ingestStore store.Store, cfg Config, _ *slog.Logger) {
	mux.Handle("POST /api/v1/measurements", ingest.Handler(ingestStore, cfg.Ingest))
	mux.Handle("POST /api/v1/dns", ingest.DNSHandler(ingestStore, cfg.Ingest))
	mux.Handle("/api/v1/", api.Handler(st, api.Options{QueueLease: cfg.QueueLease, MaxExports: cfg.MaxExports}))
}
