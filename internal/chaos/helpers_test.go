package chaos

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store"
)

func skipUnlessChaos(t *testing.T) {
	t.Helper()
	if os.Getenv("FIREWATCH_CHAOS_TESTS") != "1" {
		t.Skip("set FIREWATCH_CHAOS_TESTS=1 to run the crash tests (.ci/run does)")
	}
}

// firewatchBinary returns $FIREWATCH_BIN or builds cmd/firewatch.
func firewatchBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("FIREWATCH_BIN"); b != "" {
		return b
	}
	bin := filepath.Join(t.TempDir(), "firewatch")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/firewatch/firewatch/cmd/firewatch")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/firewatch: %v\n%s", err, out)
	}
	return bin
}

// proc is a firewatch process started by a test.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
	err  error // after done
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs bin with args; the environment adds env. The process is
// killed when the test ends, and its output is logged if the test failed.
func start(t *testing.T, name, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), log: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- output of %s (%s):\n%s", name, strings.Join(args, " "), tail(p.log.String(), 4000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits (SIGKILL after 30 s).
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.kill()
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// collector is `firewatch serve` on a fixed loopback address and database,
// restarted after each kill on the same address.
type collector struct {
	t       *testing.T
	bin, db string
	addr    string
	extra   []string
	p       *proc
	starts  int
}

func newCollector(t *testing.T, bin, db string, extra ...string) *collector {
	c := &collector{t: t, bin: bin, db: db, extra: extra}
	// The port is free when freeAddr closes it, but another process may
	// take it before serve listens: then try another one.
	for try := 0; ; try++ {
		c.addr = freeAddr(t)
		if c.launch(try < 4) {
			return c
		}
	}
}

func (c *collector) url() string { return "http://" + c.addr }

// start runs serve again on the same address and database and waits until
// /healthz answers 200.
func (c *collector) start() {
	c.t.Helper()
	c.launch(false)
}

// launch runs serve and waits until /healthz answers 200. With busyOK, a
// collector that exits because its address is taken makes launch return
// false instead of failing the test.
func (c *collector) launch(busyOK bool) bool {
	c.t.Helper()
	c.starts++
	args := append([]string{"serve", "--listen", c.addr, "--db", c.db}, c.extra...)
	c.p = start(c.t, fmt.Sprintf("collector #%d", c.starts), c.bin, nil, args...)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c.p.exited() {
			if busyOK && strings.Contains(c.p.log.String(), "address already in use") {
				c.starts--
				return false
			}
			c.t.Fatalf("collector exited at start: %v\n%s", c.p.err, c.p.log.String())
		}
		resp, err := http.Get(c.url() + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("collector not healthy on %s within 20s", c.addr)
	return false
}

// createToken runs `firewatch token create` and returns the secret.
func createToken(t *testing.T, bin, db, name string) string {
	t.Helper()
	out, err := exec.Command(bin, "token", "create", "--db", db, "--name", name).Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// jsonlRecords reads the probe's JSON Lines: the records of whole lines and
// the number of lines a kill cut (not JSON).
func jsonlRecords(t *testing.T, path string) (recs []model.Measurement, cut int) {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		var m model.Measurement
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil || m.ID == "" {
			cut++
			continue
		}
		recs = append(recs, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs, cut
}

// lineCounter counts the lines of a growing file.
type lineCounter struct {
	path string
	off  int64
	n    int
}

func (c *lineCounter) count() int {
	f, err := os.Open(c.path)
	if err != nil {
		return c.n
	}
	defer f.Close()
	f.Seek(c.off, io.SeekStart)
	b, _ := io.ReadAll(f)
	c.off += int64(len(b))
	c.n += bytes.Count(b, []byte{'\n'})
	return c.n
}

// storedIDs lists every stored measurement id, with how often each occurs.
func storedIDs(t *testing.T, st store.Store) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for off := 0; ; off += 1000 {
		rows, err := st.Measurements(context.Background(), store.Filter{}, store.Page{Limit: 1000, Offset: off})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			ids[r.ID]++
		}
		if len(rows) < 1000 {
			return ids
		}
	}
}

// historyTests sums the tests counted in every target's history.
func historyTests(t *testing.T, st store.Store) int {
	t.Helper()
	n := 0
	for off := 0; ; off += 1000 {
		ts, err := st.Targets(context.Background(), store.Filter{}, store.Page{Limit: 1000, Offset: off})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ts {
			n += s.Tests
		}
		if len(ts) < 1000 {
			return n
		}
	}
}

// integrityCheck runs SQLite's PRAGMA integrity_check on the database.
func integrityCheck(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

// spoolLeft lists the records still waiting in a spool and those rejected.
func spoolLeft(t *testing.T, dir string) (waiting, rejected []string) {
	t.Helper()
	waiting, _ = filepath.Glob(filepath.Join(dir, "*.json"))
	rejected, _ = filepath.Glob(filepath.Join(dir, "rejected", "*.json"))
	return waiting, rejected
}
