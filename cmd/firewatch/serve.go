package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/firewatch/firewatch/internal/collector"
	"github.com/firewatch/firewatch/internal/collector/api"
	"github.com/firewatch/firewatch/internal/collector/web"
	"github.com/firewatch/firewatch/internal/collector/webhook"
	"github.com/firewatch/firewatch/internal/store"
)

func init() { commands = append(commands, newServeCmd) }

// minAdminPassword is the shortest operator password serve accepts.
const minAdminPassword = 8

// maxExports bounds --max-exports: exports read the store in short pages,
// but each page needs a database connection, and ingest, /healthz and the
// dashboard keep the rest of the pool (8 connections on SQLite).
const maxExports = 4

type serveOptions struct {
	listen        string
	db            string
	passwordFile  string
	webhooks      []string
	webhookSecret string
	publicURL     string
	secureCookies bool
	queueLease    time.Duration
	maxExports    int
	trustedProxy  []string
}

func newServeCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the collector: ingest, history, dashboard, feeds and API",
		Long: `Run the collector: it stores the measurements probes upload (POST /api/v1/measurements
with a token from "firewatch token create"), keeps each target's history, and publishes
the dashboard, the Atom and RSS feeds, the JSON API, /metrics and /healthz.

Operators sign in with the password read from --admin-password-file or the environment
variable FIREWATCH_ADMIN_PASSWORD; without one, sign-in ("test now", tokens) is disabled.
Agents lease "test now" items for --queue-lease: an item not measured by then is handed
out again. At most --max-exports exports run at once. Behind a reverse proxy, name it
with --trusted-proxy: only then is the client's address read from X-Forwarded-For, so that
failed sign-ins lock out the client that made them, not everyone behind the proxy.

Each --webhook URL receives every new event as JSON, signed with HMAC-SHA256 of
--webhook-secret (or FIREWATCH_WEBHOOK_SECRET) in the header X-Firewatch-Signature.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd.Context(), o, cmd) },
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to serve HTTP on")
	f.StringVar(&o.db, "db", "firewatch.db", "database: a SQLite file path, sqlite://PATH or postgres://...")
	f.StringVar(&o.passwordFile, "admin-password-file", "", "file holding the operators' password (else $FIREWATCH_ADMIN_PASSWORD)")
	f.StringArrayVar(&o.webhooks, "webhook", nil, "URL that receives every new event as signed JSON (repeatable)")
	f.StringVar(&o.webhookSecret, "webhook-secret", "", "HMAC key signing webhook deliveries (else $FIREWATCH_WEBHOOK_SECRET)")
	f.StringVar(&o.publicURL, "public-url", "", "the collector's public URL, used in feeds and webhooks (default: from each request)")
	f.BoolVar(&o.secureCookies, "secure-cookies", false, "mark session cookies Secure (when served over HTTPS by a proxy)")
	f.DurationVar(&o.queueLease, "queue-lease", store.DefaultLease, `how long an agent holds a "test now" item before it is handed out again`)
	f.IntVar(&o.maxExports, "max-exports", api.DefaultMaxExports, "exports served at once (more get 429 with Retry-After)")
	f.StringArrayVar(&o.trustedProxy, "trusted-proxy", nil, "CIDR or address of a reverse proxy whose X-Forwarded-For names the client (repeatable)")
	return cmd
}

// adminPassword reads the operators' password from the file or the environment.
func adminPassword(file string) (string, error) {
	var pw, from string
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--admin-password-file: %w", err)
		}
		pw, from = strings.TrimRight(string(b), "\r\n"), "--admin-password-file "+file
	} else if v := os.Getenv("FIREWATCH_ADMIN_PASSWORD"); v != "" {
		pw, from = v, "FIREWATCH_ADMIN_PASSWORD"
	} else {
		return "", nil
	}
	if len(pw) < minAdminPassword {
		return "", fmt.Errorf("%s: the password must be at least %d characters", from, minAdminPassword)
	}
	return pw, nil
}

func (o serveOptions) config(log *slog.Logger) (collector.Config, error) {
	pw, err := adminPassword(o.passwordFile)
	if err != nil {
		return collector.Config{}, err
	}
	cfg := collector.Config{AdminPassword: pw, PublicURL: strings.TrimRight(o.publicURL, "/"), SecureCookies: o.secureCookies, Logger: log,
		QueueLease: o.queueLease, MaxExports: o.maxExports}
	if o.queueLease != 0 && o.queueLease < time.Second { // 0: the default
		return cfg, fmt.Errorf("--queue-lease %s: must be at least 1s", o.queueLease)
	}
	if o.maxExports < 0 || o.maxExports > maxExports { // 0: the default
		return cfg, fmt.Errorf("--max-exports %d: must be from 1 to %d", o.maxExports, maxExports)
	}
	for _, v := range o.trustedProxy {
		p, err := web.ParseTrustedProxy(v)
		if err != nil {
			return cfg, fmt.Errorf("--trusted-proxy %q: want a CIDR prefix or an address", v)
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, p)
	}
	if o.secureCookies && len(cfg.TrustedProxies) == 0 {
		log.Warn("--secure-cookies without --trusted-proxy: behind a proxy every client has the proxy's address, and failed sign-ins are limited per address")
	}
	if o.publicURL != "" {
		if err := webhook.ValidateURL(o.publicURL); err != nil {
			return cfg, fmt.Errorf("--public-url: %w", err)
		}
	}
	secret := o.webhookSecret
	if secret == "" {
		secret = os.Getenv("FIREWATCH_WEBHOOK_SECRET")
	}
	for _, u := range o.webhooks {
		if err := webhook.ValidateURL(u); err != nil {
			return cfg, fmt.Errorf("--webhook: %w", err)
		}
		cfg.Webhooks = append(cfg.Webhooks, collector.Webhook{URL: u, Secret: secret})
	}
	if len(cfg.Webhooks) > 0 && secret == "" {
		log.Warn("webhooks are sent unsigned: set --webhook-secret or FIREWATCH_WEBHOOK_SECRET")
	}
	return cfg, nil
}

func runServe(ctx context.Context, o serveOptions, cmd *cobra.Command) error {
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	cfg, err := o.config(log)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, o.db)
	if err != nil {
		return err
	}
	defer st.Close()

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", o.listen, err)
	}
	srv := &http.Server{
		Handler:           collector.New(st, cfg),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hooksDone := make(chan error, 1)
	go func() { hooksDone <- collector.RunWebhooks(ctx, st, cfg) }()

	signin := "operator sign-in disabled (no password)"
	if cfg.AdminPassword != "" {
		signin = "operator sign-in enabled"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "firewatch: collector serving http://%s/ (database %s; %s; %d webhook(s))\n",
		ln.Addr(), o.db, signin, len(cfg.Webhooks))

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	hooksStopped := false
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case err := <-hooksDone:
		hooksStopped = true
		if err != nil {
			srv.Close()
			return err
		}
		// No webhooks: keep serving until interrupted.
		select {
		case err := <-served:
			return fmt.Errorf("serve: %w", err)
		case <-ctx.Done():
		}
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("shutdown", "err", err)
	}
	// The webhook sender uses the store: let it stop before st.Close.
	cancel()
	if !hooksStopped {
		select {
		case <-hooksDone:
		case <-sctx.Done():
		}
	}
	fmt.Fprintln(cmd.OutOrStdout(), "firewatch: collector stopped")
	return nil
}
