package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/firewatch/firewatch/internal/collector"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store"
	"github.com/firewatch/firewatch/internal/store/storetest"
)

// chromiumPath is Debian's chromium; FIREWATCH_CHROMIUM overrides it.
func chromiumPath() string {
	if p := os.Getenv("FIREWATCH_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// seededSQLite opens a real SQLite store in a temporary directory, seeded
// with storetest.Sample.
func seededSQLite(t *testing.T) store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "firewatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Insert(ctx, storetest.Sample(time.Now())); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestBrowserDashboard opens the dashboard of a seeded SQLite database in
// headless Chromium, checks the blocked targets with their methods and the
// side-by-side evidence of two target pages, and saves screenshots to
// $FIREWATCH_ARTIFACTS (or the test's temporary directory).
func TestBrowserDashboard(t *testing.T) {
	if os.Getenv("FIREWATCH_BROWSER_TESTS") != "1" {
		t.Skip("browser test: set FIREWATCH_BROWSER_TESTS=1 (needs /usr/bin/chromium or $FIREWATCH_CHROMIUM)")
	}
	if _, err := os.Stat(chromiumPath()); err != nil {
		t.Fatalf("chromium: %v (apt-get install chromium, or set FIREWATCH_CHROMIUM)", err)
	}
	artifacts := os.Getenv("FIREWATCH_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}

	st := seededSQLite(t)
	if _, err := st.InsertDNS(context.Background(), storetest.SampleDNS(time.Now())); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(collector.New(st, collector.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath()),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()

	// The overview lists the blocked targets with their methods, styled by
	// the stylesheet the CSP allows.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#blocked"))); err != nil {
		t.Fatalf("overview: %v", err)
	}
	blocked := text(ctx, t, "#blocked")
	display, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("header.site")).display`))
	if err != nil {
		t.Fatal(err)
	}
	screenshot(ctx, t, artifacts, "dashboard-overview.png")
	for _, want := range []string{storetest.TargetDNS, storetest.TargetMITM, storetest.TargetRedirect,
		model.MethodDNSInjected, model.MethodTLSMITM, model.MethodHTTPRedirect, model.MethodTLSStripped} {
		if !strings.Contains(blocked, want) {
			t.Errorf("overview's blocked table lacks %q:\n%s", want, blocked)
		}
	}
	if display != "flex" {
		t.Errorf("header display %q, want flex: the stylesheet did not load under the CSP", display)
	}

	// Follow the link of the MITM target from the overview.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#blocked a[href*="mitm.example"]`)), chromedp.WaitVisible(chromedp.CSS("#evidence"))); err != nil {
		t.Fatalf("MITM target page: %v", err)
	}
	inside, outside := text(ctx, t, ".sbs-tls .side.inside"), text(ctx, t, ".sbs-tls .side.outside")
	screenshot(ctx, t, artifacts, "dashboard-target-mitm.png")
	if !strings.Contains(inside, storetest.SampleCAIssuer) || !strings.Contains(inside, "not verified") {
		t.Errorf("inside certificate column lacks the forged issuer:\n%s", inside)
	}
	if !strings.Contains(outside, storetest.SampleRootIssuer) || strings.Contains(outside, "not verified") {
		t.Errorf("outside certificate column lacks the genuine, verified issuer:\n%s", outside)
	}

	// The DNS injection target: the forged answer inside, flagged; the
	// genuine one outside.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/target?u="+url.QueryEscape(storetest.TargetDNS)), chromedp.WaitVisible(chromedp.CSS("#evidence"))); err != nil {
		t.Fatalf("DNS target page: %v", err)
	}
	inside, outside = text(ctx, t, ".sbs-dns .side.inside"), text(ctx, t, ".sbs-dns .side.outside")
	screenshot(ctx, t, artifacts, "dashboard-target-dns.png")
	if !strings.Contains(inside, "203.0.113.66") || !strings.Contains(inside, "injected") {
		t.Errorf("inside DNS column lacks the flagged forged answer:\n%s", inside)
	}
	if !strings.Contains(outside, "192.0.2.10") || strings.Contains(outside, "203.0.113.66") {
		t.Errorf("outside DNS column is not the genuine answer only:\n%s", outside)
	}
	// The DNS filter: censored domains with their rules, the forged-address
	// pool and the chart of censored domains per day, reached from the menu.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`header.site a[href="/dns"]`)), chromedp.WaitVisible(chromedp.CSS("#dns-censored"))); err != nil {
		t.Fatalf("DNS page: %v", err)
	}
	censored, rules, forged := text(ctx, t, "#dns-censored"), text(ctx, t, "#dns-rules"), text(ctx, t, "#dns-forged")
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("svg rect.bar-hi").length`))
	if err != nil {
		t.Fatal(err)
	}
	screenshot(ctx, t, artifacts, "dashboard-dns.png")
	if !strings.Contains(censored, "www.falundafa.org") || !strings.Contains(censored, "news.zone.example") || strings.Contains(censored, "lifted.example") {
		t.Errorf("censored domains table:\n%s", censored)
	}
	if !strings.Contains(rules, "substring") || !strings.Contains(rules, "*.zone.example") {
		t.Errorf("rules table:\n%s", rules)
	}
	if !strings.Contains(forged, "203.0.113.201") || !strings.Contains(forged, "203.0.113.202") {
		t.Errorf("forged-address pool:\n%s", forged)
	}
	if bars == 0 {
		t.Errorf("the chart of censored domains per day has no bar")
	}
	t.Logf("screenshots in %s", artifacts)
}

func text(ctx context.Context, t *testing.T, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func screenshot(ctx context.Context, t *testing.T, dir, name string) {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Error(err)
	}
}
