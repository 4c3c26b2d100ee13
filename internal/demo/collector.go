package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/firewatch/firewatch/internal/collector"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store"
	"github.com/firewatch/firewatch/internal/upload"
)

// TokenName is the name of the probe token the demo creates.
const TokenName = "demo-probe"

// Collector is the demo's collector: a SQLite database in a directory,
// served over HTTP in this process, and the token the probe uploads with.
type Collector struct {
	Store store.Store
	// URL is the dashboard's address, e.g. http://127.0.0.1:8080/.
	URL string
	// Busy is the address asked for when it was taken and another port was chosen.
	Busy  string
	Token string
	// DB is the SQLite file.
	DB string

	srv    *http.Server
	served chan error
	up     *upload.Uploader
}

// StartCollector opens a SQLite store in dir, serves the collector on
// listen (on a free port of the same host when listen is taken) and creates
// the probe's token.
func StartCollector(ctx context.Context, dir, listen string, log *slog.Logger) (c *Collector, err error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c = &Collector{DB: filepath.Join(dir, "firewatch.db")}
	c.Store, err = store.Open(ctx, c.DB)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Store.Close()
		}
	}()
	ln, err := net.Listen("tcp", listen)
	if errors.Is(err, syscall.EADDRINUSE) {
		host, _, _ := net.SplitHostPort(listen)
		c.Busy = listen
		ln, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
	}
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", listen, err)
	}
	c.URL = dashboardURL(ln.Addr().(*net.TCPAddr))
	if c.Token, err = c.Store.CreateToken(ctx, TokenName); err != nil {
		ln.Close()
		return nil, fmt.Errorf("collector: probe token: %w", err)
	}
	spool, err := upload.OpenSpool(filepath.Join(dir, "spool"))
	if err != nil {
		ln.Close()
		return nil, err
	}
	c.up = &upload.Uploader{
		URL: c.URL, Token: c.Token, Spool: spool, Batch: 200,
		MinBackoff: 200 * time.Millisecond, MaxBackoff: 2 * time.Second,
		HTTP: &http.Client{Timeout: 30 * time.Second},
		Logf: func(format string, args ...any) { log.Warn(fmt.Sprintf(format, args...)) },
	}
	c.srv = &http.Server{
		Handler:           collector.New(c.Store, collector.Config{Logger: log}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	c.served = make(chan error, 1)
	go func() { c.served <- c.srv.Serve(ln) }()
	return c, nil
}

// dashboardURL is the URL a person opens: a wildcard address is shown as
// 127.0.0.1 (Go listens on both families for a wildcard address).
func dashboardURL(a *net.TCPAddr) string {
	ip := a.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return "http://" + net.JoinHostPort(ip.String(), fmt.Sprint(a.Port)) + "/"
}

// Served returns a channel that receives the HTTP server's error if it
// stops serving by itself.
func (c *Collector) Served() <-chan error { return c.served }

// UploadResult says what one upload did.
type UploadResult struct {
	Sent     int      // records put in the spool and uploaded
	Inserted int      // records the collector stored as new
	Stored   int      // measurements the collector holds in all
	Rejected []string // the collector's reasons for records it refused
}

// Upload sends records the way a probe does: each is written to the spool,
// then the uploader sends them in batches with the probe's token and
// deletes from the spool what the collector acknowledged.
func (c *Collector) Upload(ctx context.Context, ms []*model.Measurement) (UploadResult, error) {
	var r UploadResult
	before, err := c.Store.Overview(ctx, store.Filter{})
	if err != nil {
		return r, fmt.Errorf("collector: %w", err)
	}
	rejectedBefore, _ := c.up.Spool.Rejected()
	for _, m := range ms {
		if err := c.up.Spool.Put(m); err != nil {
			return r, err
		}
		r.Sent++
	}
	fctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := c.up.Flush(fctx); err != nil {
		return r, err
	}
	after, err := c.Store.Overview(ctx, store.Filter{})
	if err != nil {
		return r, fmt.Errorf("collector: %w", err)
	}
	r.Stored = after.Measurements
	r.Inserted = after.Measurements - before.Measurements
	rejected, _ := c.up.Spool.Rejected()
	old := map[string]bool{}
	for _, n := range rejectedBefore {
		old[n] = true
	}
	for _, n := range rejected {
		if old[n] {
			continue
		}
		reason, _ := os.ReadFile(filepath.Join(c.up.Spool.Dir, upload.RejectedDir, n+".error"))
		r.Rejected = append(r.Rejected, strings.TrimSpace(string(reason)))
	}
	return r, nil
}

// Close stops serving (letting requests in flight finish for a few
// seconds) and closes the store.
func (c *Collector) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := c.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = c.srv.Close()
	}
	if cerr := c.Store.Close(); err == nil {
		err = cerr
	}
	return err
}
