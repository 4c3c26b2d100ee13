package chaos

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/store"
)

// Sizes of the upload test.
const (
	uploadRecords   = 10_000
	uploaderKills   = 5
	collectorKills  = 5
	loopbackRoutes  = "FIREWATCH_ROUTABLE=127.0.0.0/8" // loopback targets are measured, not bogons
	chaosRunTimeout = 8 * time.Minute
)

// recoveredRE finds the uploader's report of records kept from temporary
// spool files a kill left.
var recoveredRE = regexp.MustCompile(`spool: (\d+) records recovered from an interrupted write`)

// chaosRand returns a seeded generator and logs the seed, so that a failing
// run can be repeated with FIREWATCH_CHAOS_SEED.
func chaosRand(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FIREWATCH_CHAOS_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (FIREWATCH_CHAOS_SEED to repeat)", seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// thresholds returns n distinct sorted random counts in [lo, hi).
func thresholds(r *rand.Rand, n, lo, hi int) []int {
	seen := map[int]bool{}
	var out []int
	for len(out) < n {
		v := lo + r.IntN(hi-lo)
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// TestChaosUpload measures 10,000 loopback targets with `firewatch run
// --out probe.jsonl --upload`, kills the uploader (5 times) and the
// collector (5 times) with SIGKILL at random moments, restarts each (the
// uploader on the targets not yet in the JSONL, the collector on the same
// database), and checks that every record of the JSONL is stored exactly
// once, counted once in the history, and that the database is intact.
func TestChaosUpload(t *testing.T) {
	skipUnlessChaos(t)
	bin := firewatchBinary(t)
	r := chaosRand(t)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html><title>ok</title>ok</html>")
	}))
	t.Cleanup(web.Close)

	dir := t.TempDir()
	db := filepath.Join(dir, "fw.db")
	token := createToken(t, bin, db, "probe-chaos")
	coll := newCollector(t, bin, db)
	jsonl := filepath.Join(dir, "probe.jsonl")
	spool := filepath.Join(dir, "spool")
	targets := make([]string, uploadRecords)
	for i := range targets {
		targets[i] = fmt.Sprintf("%s/r/%05d", web.URL, i)
	}

	killUploader := thresholds(r, uploaderKills, uploadRecords/20, uploadRecords*19/20)
	killCollector := thresholds(r, collectorKills, uploadRecords/20, uploadRecords*19/20)
	t.Logf("uploader killed at records %v, collector at %v", killUploader, killCollector)
	lines := &lineCounter{path: jsonl}
	deadline := time.Now().Add(chaosRunTimeout)
	runs, uploaderKilled, collectorKilled := 0, 0, 0
	lastOK := false
	var uploaders []*proc
	start0 := time.Now()
	for {
		if time.Now().After(deadline) {
			t.Fatalf("not done within %v", chaosRunTimeout)
		}
		recs, _ := jsonlRecords(t, jsonl)
		measured := map[string]bool{}
		for _, m := range recs {
			measured[m.Target] = true
		}
		var todo []string
		for _, tg := range targets {
			if !measured[tg] {
				todo = append(todo, tg)
			}
		}
		if len(todo) == 0 {
			if lastOK {
				break // the last run ended by itself, its spool drained
			}
			todo = targets[:1] // a killed run left the spool: the next run drains it
		}
		list := filepath.Join(dir, fmt.Sprintf("list-%d.txt", runs))
		if err := os.WriteFile(list, []byte(strings.Join(todo, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		runs++
		up := start(t, fmt.Sprintf("uploader #%d", runs), bin, []string{loopbackRoutes},
			"run", "--list", list, "--out", jsonl, "--append", "--upload", coll.url(), "--token", token,
			"--spool", spool, "--no-progress", "--concurrency", "8", "--timeout", "5s")
		uploaders = append(uploaders, up)
		killed := false
		for !up.exited() && !killed {
			time.Sleep(10 * time.Millisecond)
			n := lines.count()
			if collectorKilled < len(killCollector) && n >= killCollector[collectorKilled] {
				coll.p.kill()
				collectorKilled++
				time.Sleep(time.Duration(50+r.IntN(400)) * time.Millisecond) // down for a while
				coll.start()
			}
			if uploaderKilled < len(killUploader) && n >= killUploader[uploaderKilled] {
				time.Sleep(time.Duration(r.IntN(20)) * time.Millisecond)
				up.kill()
				uploaderKilled++
				killed = true
			}
		}
		if lastOK = !killed; killed {
			continue
		}
		if up.err != nil {
			t.Fatalf("uploader #%d failed: %v", runs, up.err)
		}
	}
	elapsed := time.Since(start0)
	coll.p.stop()

	recs, cut := jsonlRecords(t, jsonl)
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ids := storedIDs(t, st)
	inJSONL := map[string]bool{}
	missing, twice := 0, 0
	for _, m := range recs {
		if inJSONL[m.ID] {
			twice++
		}
		inJSONL[m.ID] = true
		switch ids[m.ID] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	extra := 0 // spooled before a kill cut its JSONL line: stored, not in the JSONL
	for id := range ids {
		if !inJSONL[id] {
			extra++
		}
	}
	recovered := 0 // whole records a kill left in a temporary spool file
	for _, up := range uploaders {
		for _, m := range recoveredRE.FindAllStringSubmatch(up.log.String(), -1) {
			n, _ := strconv.Atoi(m[1])
			recovered += n
		}
	}
	tests := historyTests(t, st)
	integrity := integrityCheck(t, db)
	waiting, rejected := spoolLeft(t, spool)
	t.Logf("%d records in the JSONL (%d cut lines), %d stored (%d not in the JSONL), history counts %d tests; %d uploader runs, %d uploader and %d collector kills, %d collector starts, %d records recovered from temporary spool files; %v",
		len(recs), cut, len(ids), extra, tests, runs, uploaderKilled, collectorKilled, coll.starts, recovered, elapsed.Round(time.Second))
	if len(recs) < uploadRecords {
		t.Errorf("the JSONL holds %d records, want at least %d", len(recs), uploadRecords)
	}
	if missing > 0 || twice > 0 {
		t.Errorf("of the JSONL's records %d are not stored and %d are stored or written twice", missing, twice)
	}
	if extra > uploaderKills {
		t.Errorf("%d stored records are not in the JSONL, want at most one per uploader kill (%d)", extra, uploaderKills)
	}
	if tests != len(ids) {
		t.Errorf("the history counts %d tests for %d stored records", tests, len(ids))
	}
	if integrity != "ok" {
		t.Errorf("integrity_check: %s", integrity)
	}
	if len(waiting) > 0 || len(rejected) > 0 {
		t.Errorf("the spool still holds %d records and rejected %d", len(waiting), len(rejected))
	}
	if uploaderKilled != uploaderKills || collectorKilled != collectorKills {
		t.Errorf("killed the uploader %d and the collector %d times, want %d and %d", uploaderKilled, collectorKilled, uploaderKills, collectorKills)
	}
}
