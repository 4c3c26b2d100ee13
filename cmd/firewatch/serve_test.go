package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestServeConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "pw")
	os.WriteFile(good, []byte("a long password\n"), 0o600)
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("abc\n"), 0o600)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name    string
		o       serveOptions
		env     string
		wantPW  string
		wantErr string
	}{
		{name: "no password", o: serveOptions{}},
		{name: "file", o: serveOptions{passwordFile: good}, wantPW: "a long password"},
		{name: "env", o: serveOptions{}, env: "from-the-environment", wantPW: "from-the-environment"},
		{name: "short", o: serveOptions{passwordFile: short}, wantErr: "at least 8"},
		{name: "missing file", o: serveOptions{passwordFile: filepath.Join(dir, "nope")}, wantErr: "--admin-password-file"},
		{name: "bad webhook", o: serveOptions{webhooks: []string{"ftp://x/"}}, wantErr: "--webhook"},
		{name: "bad public url", o: serveOptions{publicURL: "example.org"}, wantErr: "--public-url"},
		{name: "bad trusted proxy", o: serveOptions{trustedProxy: []string{"proxy.example"}}, wantErr: "--trusted-proxy"},
		{name: "short lease", o: serveOptions{queueLease: time.Millisecond}, wantErr: "--queue-lease"},
		{name: "no exports", o: serveOptions{maxExports: -1}, wantErr: "--max-exports"},
		{name: "too many exports", o: serveOptions{maxExports: 100}, wantErr: "--max-exports"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("FIREWATCH_ADMIN_PASSWORD", tc.env)
			cfg, err := tc.o.config(log)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || cfg.AdminPassword != tc.wantPW {
				t.Fatalf("password %q, err %v; want %q", cfg.AdminPassword, err, tc.wantPW)
			}
		})
	}
	o := serveOptions{webhooks: []string{"https://a.example/hook", "http://127.0.0.1:9/"}, webhookSecret: "k"}
	cfg, err := o.config(log)
	if err != nil || len(cfg.Webhooks) != 2 || cfg.Webhooks[1].Secret != "k" {
		t.Errorf("webhooks %+v, err %v", cfg.Webhooks, err)
	}
	o = serveOptions{trustedProxy: []string{"10.0.0.0/8", "2001:db8::1"}, queueLease: 30 * time.Second, maxExports: 3}
	cfg, err = o.config(log)
	if err != nil || len(cfg.TrustedProxies) != 2 || cfg.TrustedProxies[1].String() != "2001:db8::1/128" || cfg.QueueLease != 30*time.Second || cfg.MaxExports != 3 {
		t.Errorf("config %+v, err %v", cfg, err)
	}
}

// TestServeRunsAndStops starts `firewatch serve` on a free loopback port
// with a SQLite file, reads the dashboard and /healthz, and stops it.
func TestServeRunsAndStops(t *testing.T) {
	t.Setenv("FIREWATCH_ADMIN_PASSWORD", "a long password")
	db := filepath.Join(t.TempDir(), "fw.db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := newServeCmd()
	pr, pw := io.Pipe()
	cmd.SetOut(pw)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"--listen", "127.0.0.1:0", "--db", db})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no startup line: %v", err)
	}
	go io.Copy(io.Discard, pr)
	m := regexp.MustCompile(`serving (http://\S+/)`).FindStringSubmatch(line)
	if m == nil || !strings.Contains(line, "sign-in enabled") {
		t.Fatalf("startup line %q", line)
	}
	for _, p := range []string{"", "healthz", "feed.atom"} {
		resp, err := http.Get(m[1] + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET /%s: %d", p, resp.StatusCode)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("database file: %v", err)
	}
}
