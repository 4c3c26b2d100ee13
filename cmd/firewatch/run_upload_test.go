package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/collector/ingest"
	"github.com/firewatch/firewatch/internal/store"
)

// TestRunUpload runs `firewatch run --upload` against a real collector ingest
// endpoint: every record reaches the store and the spool ends empty.
func TestRunUpload(t *testing.T) {
	t.Setenv("FIREWATCH_ROUTABLE", "127.0.0.0/8")
	ctx := context.Background()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(web.Close)
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "fw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	token, err := st.CreateToken(ctx, "probe-1")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/measurements", ingest.Handler(st, ingest.Options{}))
	coll := httptest.NewServer(mux)
	t.Cleanup(coll.Close)

	list := filepath.Join(dir, "list.txt")
	var b strings.Builder
	for _, p := range []string{"/a", "/b", "/c", "/d"} {
		b.WriteString("http://" + web.Listener.Addr().String() + p + "\n")
	}
	os.WriteFile(list, []byte(b.String()), 0o644)
	spool := filepath.Join(dir, "spool")
	msg, err := execute(t, "run", "--list", list, "--upload", coll.URL, "--token", token, "--spool", spool)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, msg)
	}
	rows, err := st.Measurements(ctx, store.Filter{}, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Errorf("collector stored %d records, want 4\n%s", len(rows), msg)
	}
	if !strings.Contains(msg, "upload: 4 uploaded\n") {
		t.Errorf("run does not report the upload status:\n%s", msg)
	}
	left, _ := filepath.Glob(filepath.Join(spool, "*.json"))
	if len(left) != 0 {
		t.Errorf("spool still holds %v after an acknowledged upload", left)
	}

	if _, err := execute(t, "run", "--list", list, "--upload", coll.URL, "--spool", spool); err == nil || !strings.Contains(err.Error(), "--token") {
		t.Errorf("run --upload without a token: got %v, want an error naming --token", err)
	}
}
