package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestServeStopsPromptly: serve stops promptly when interrupted, with and without
// webhooks, having waited for the webhook sender before closing the store.
func TestServeStopsPromptly(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hooks []string
	}{
		{"no webhooks", nil},
		{"webhook", []string{"http://127.0.0.1:1/hook"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("FIREWATCH_ADMIN_PASSWORD", "")
			o := serveOptions{listen: "127.0.0.1:0", db: filepath.Join(t.TempDir(), "c.db"), webhooks: tc.hooks}
			var out syncBuffer
			cmd := &cobra.Command{}
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- runServe(ctx, o, cmd) }()
			for i := 0; i < 200 && !strings.Contains(out.String(), "serving"); i++ {
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("runServe: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("serve did not stop within 5s of the interruption")
			}
			if !strings.Contains(out.String(), "collector stopped") {
				t.Errorf("output %q, want it to say the collector stopped", out.String())
			}
		})
	}
}
