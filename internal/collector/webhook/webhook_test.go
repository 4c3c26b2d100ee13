package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/collector/webhook"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store/storetest"
)

func TestNotifierDeliversSignedEventsWithRetries(t *testing.T) {
	now := time.Now()
	st := storetest.New(t, nil)
	// An event that exists before the notifier starts is not sent.
	var m *model.Measurement
	for _, x := range storetest.Sample(now) {
		if x.Status == model.StatusBlocked {
			m = x
			break
		}
	}
	if _, err := st.Insert(context.Background(), []*model.Measurement{m}); err != nil {
		t.Fatal(err)
	}

	const secret = "s3cret"
	var mu sync.Mutex
	var got []webhook.Payload
	var attempts int
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if attempts == 1 {
			http.Error(w, "not now", http.StatusServiceUnavailable) // force one retry
			return
		}
		if !webhook.Verify(secret, body, r.Header.Get(webhook.SignatureHeader)) {
			t.Errorf("bad signature %q", r.Header.Get(webhook.SignatureHeader))
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p webhook.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("payload: %v", err)
		}
		got = append(got, p)
	}))
	defer recv.Close()

	delivered := make(chan error, 10)
	n := &webhook.Notifier{Store: st, Hooks: []webhook.Hook{{URL: recv.URL, Secret: secret}},
		Interval: 20 * time.Millisecond, Backoff: 10 * time.Millisecond, PublicURL: "https://fw.example",
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnDelivery: func(_ webhook.Hook, _ webhook.Payload, err error) { delivered <- err }}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- n.Run(ctx) }()
	time.Sleep(60 * time.Millisecond) // let it take its starting point

	unblocked := *m
	unblocked.ID, unblocked.StartedAt = "m-later", m.StartedAt.Add(time.Hour)
	unblocked.Status, unblocked.Methods = model.StatusOK, []string{}
	if _, err := st.Insert(context.Background(), []*model.Measurement{&unblocked}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-delivered:
		if err != nil {
			t.Fatalf("delivery: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery within 5 s")
	}
	cancel()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || attempts != 2 {
		t.Fatalf("got %d payloads in %d attempts, want 1 in 2", len(got), attempts)
	}
	p := got[0]
	if p.Kind != "unblocked" || p.Target != m.Target || p.MeasurementID != "m-later" || p.URL == "" {
		t.Errorf("payload %+v", p)
	}
}

func TestSignAndVerify(t *testing.T) {
	body := []byte(`{"id":1}`)
	sig := webhook.Sign("k", body)
	if len(sig) != len("sha256=")+64 || !webhook.Verify("k", body, sig) {
		t.Errorf("Sign = %q does not verify", sig)
	}
	if webhook.Verify("other", body, sig) || webhook.Verify("k", []byte(`{"id":2}`), sig) {
		t.Error("signature verified under another key or body")
	}
}

func TestValidateURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{{"https://hooks.example/x", true}, {"http://127.0.0.1:9/", true}, {"ftp://x/", false}, {"/relative", false}, {"http://", false}} {
		if err := webhook.ValidateURL(tc.url); (err == nil) != tc.ok {
			t.Errorf("ValidateURL(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
}
