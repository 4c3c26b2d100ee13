package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/lab"
	"github.com/firewatch/firewatch/internal/lab/nsnet"
	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/target"
)

// firewatchBinary returns $FIREWATCH_BIN or builds cmd/firewatch: the lab
// runs it as its daemons, the control and the probe.
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

func fwlabNamespaces(t *testing.T) []string {
	t.Helper()
	ns, err := nsnet.List("fwlab-")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// TestDemoEndToEnd runs `firewatch demo --rounds 1 --exit-after-rounds`
// for real: the lab with the seed scenario, the probe inside, the upload
// into the collector. It needs root and FIREWATCH_LAB_TESTS=1, and must not
// run beside the lab's own tests (one lab per machine): run it with
//
//	FIREWATCH_LAB_TESTS=1 go test -count=1 -p 1 -run EndToEnd ./internal/demo/
func TestDemoEndToEnd(t *testing.T) {
	if os.Getenv("FIREWATCH_LAB_TESTS") != "1" {
		t.Skip("the demo's end-to-end test builds the lab: it needs root and FIREWATCH_LAB_TESTS=1")
	}
	if err := lab.CheckPrivileges(); err != nil {
		t.Skipf("FIREWATCH_LAB_TESTS=1 but %v", err)
	}
	if ns := fwlabNamespaces(t); len(ns) > 0 {
		t.Fatalf("a lab is running already (%s): only one lab fits on a machine; run `firewatch lab down` if it is a leftover", strings.Join(ns, ", "))
	}
	bin := firewatchBinary(t)
	const seed = "../../scenarios/seed-2015.yaml"
	sc, err := scenario.Load(seed)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var out bytes.Buffer
	var served struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	res, err := Run(ctx, Options{
		Scenario: seed, Listen: "127.0.0.1:0", Rounds: 1, ExitAfterRounds: true,
		Exe: bin, Control: true, Seed: 1, Out: &out, Err: &out,
		Ready: func(url string) {
			resp, err := http.Get(url + "api/v1/measurements?limit=1000")
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			if err := json.NewDecoder(resp.Body).Decode(&served); err != nil {
				t.Errorf("api/v1/measurements: %v", err)
			}
		},
	})
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	if ns := fwlabNamespaces(t); len(ns) > 0 {
		t.Errorf("namespaces left behind: %v", ns)
	}
	if res.Records != len(res.Targets) {
		t.Errorf("%d records for %d targets", res.Records, len(res.Targets))
	}
	if res.Stored != res.Records || len(served.Items) != res.Records {
		t.Errorf("the collector holds %d measurements and served %d; want the %d measured", res.Stored, len(served.Items), res.Records)
	}
	got := map[string]Finding{}
	for _, f := range res.Findings {
		got[f.Target] = f
	}
	for _, e := range sc.Expect {
		if e.Status != model.StatusBlocked {
			continue
		}
		ts, _ := target.Parse(e.Target)
		for _, tg := range ts {
			f, ok := got[tg.String()]
			switch {
			case !ok:
				t.Errorf("the findings table lacks %s (expected blocked, line %d)", tg, e.Line)
			case f.Status != model.StatusBlocked:
				t.Errorf("%s: %s %v, want blocked %v (line %d)", tg, f.Status, f.Methods, e.Methods, e.Line)
			case !strings.Contains(out.String(), tg.String()):
				t.Errorf("the printed table does not name %s", tg)
			}
		}
	}
}
