package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/control"
	"github.com/firewatch/firewatch/internal/target"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// startControl runs `firewatch control` on loopback and returns its URL.
func startControl(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var errOut syncBuffer
	root := newRootCmd()
	root.SetArgs(append([]string{"control", "--listen", "127.0.0.1:0", "--allow-loopback"}, args...))
	root.SetOut(io.Discard)
	root.SetErr(&errOut)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("control did not stop")
		}
	})
	re := regexp.MustCompile(`control listening on (http://\S+)`)
	for i := 0; i < 200; i++ {
		if m := re.FindStringSubmatch(errOut.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("control exited: %v: %s", err, errOut.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("control did not start: %s", errOut.String())
	return ""
}

func TestControlCommand(t *testing.T) {
	t.Setenv("FIREWATCH_ROUTABLE", "127.0.0.0/8")
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<title>outside</title>")
	}))
	t.Cleanup(web.Close)
	url := startControl(t, "--token", "tok", "--timeout", "2s")
	c := &control.Client{URL: url, Token: "tok"}
	ts, err := target.Parse(web.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Measure(context.Background(), ts[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range m.Steps {
		found = found || (s.HTTP != nil && s.HTTP.Title == "outside")
	}
	if !found || m.Vantage != "control" {
		t.Errorf("control measurement lacks the page: %+v", m.Steps)
	}
	c.Token = ""
	if _, err := c.WhoAmI(context.Background()); err == nil {
		t.Error("whoami without the token succeeded")
	}
}

func TestControlFlags(t *testing.T) {
	if _, err := execute(t, "control"); err == nil {
		t.Error("control without --listen succeeded")
	}
	if _, err := execute(t, "control", "--listen", "127.0.0.1:0", "--tls-cert", "x.pem"); err == nil {
		t.Error("--tls-cert without --tls-key succeeded")
	}
}
