package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/lab"
)

// TestLabVerifyTwoLabs runs `lab verify` over two scenarios in two labs at
// once (fwt1, fwt2: never the default lab's names), checks that both labs
// were up side by side (`lab status` lists both while verify runs) and that
// both verify. It needs root and FIREWATCH_LAB_TESTS=1; FIREWATCH_BIN names
// a built firewatch (else it is built).
func TestLabVerifyTwoLabs(t *testing.T) {
	if os.Getenv("FIREWATCH_LAB_TESTS") != "1" {
		t.Skip("lab test: set FIREWATCH_LAB_TESTS=1 (needs root)")
	}
	if err := lab.CheckPrivileges(); err != nil {
		t.Skip(err)
	}
	bin := os.Getenv("FIREWATCH_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "firewatch")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	down := func() {
		for _, n := range []string{"fwt1", "fwt2"} {
			_ = exec.Command(bin, "lab", "down", "--name", n).Run()
		}
	}
	down()
	t.Cleanup(down)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a, b := "../../scenarios/dns-inject.yaml", "../../scenarios/tls-mitm.yaml"
	var out, errOut bytes.Buffer
	verify := exec.CommandContext(ctx, bin, "lab", "verify", "--name", "fwt", "--scenario", a, "--scenario", b, "--parallel-labs", "2")
	verify.Stdout, verify.Stderr = &out, &errOut
	if err := verify.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- verify.Wait() }()
	sideBySide := false
	var verr error
poll:
	for {
		select {
		case verr = <-done:
			break poll
		case <-time.After(300 * time.Millisecond):
		}
		if sideBySide {
			continue
		}
		st, _ := exec.Command(bin, "lab", "status", "--json").Output()
		var list struct {
			Labs []struct {
				Name string `json:"name"`
				Up   bool   `json:"up"`
			} `json:"labs"`
		}
		if json.Unmarshal(st, &list) == nil {
			up := map[string]bool{}
			for _, l := range list.Labs {
				up[l.Name] = l.Up
			}
			sideBySide = up["fwt1"] && up["fwt2"]
		}
	}
	text := out.String()
	if verr != nil {
		t.Fatalf("lab verify: %v\nstdout:\n%s\nstderr:\n%s", verr, text, errOut.String())
	}
	if !sideBySide {
		t.Errorf("lab status never listed fwt1 and fwt2 up at the same time")
	}
	for _, want := range []string{"=== " + a + " (lab fwt1)", "=== " + b + " (lab fwt2)"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if last := lines[len(lines)-1]; !strings.HasSuffix(last, " passed, 0 failed") || strings.HasPrefix(last, "0 passed") {
		t.Errorf("closing line %q, want N passed, 0 failed", last)
	}
	if n := strings.Count(text, " passed, 0 failed"); n != 3 {
		t.Errorf("%d closing lines without failures, want 3 (two scenarios and the total):\n%s", n, text)
	}
	if st, _ := exec.Command(bin, "lab", "status", "--json").Output(); bytes.Contains(st, []byte(`"fwt1"`)) || bytes.Contains(st, []byte(`"fwt2"`)) {
		t.Errorf("a lab is left after verify: %s", st)
	}
}
