package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/lab/verify"
	"github.com/firewatch/firewatch/internal/model"
)

func TestSameFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(p, []byte("name: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, p)
	if err != nil {
		rel = p
	}
	if !sameFile(p, rel) {
		t.Errorf("sameFile(%q, %q) = false", p, rel)
	}
	if sameFile(p, filepath.Join(dir, "other.yaml")) {
		t.Error("sameFile of two files = true")
	}
}

// TestShippedScenarios checks that every scenario in scenarios/ parses, has
// an expect list, and names only targets the probe accepts.
func TestShippedScenarios(t *testing.T) {
	files, err := filepath.Glob("../../scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		sc, err := scenario.Load(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if len(sc.Expect) == 0 && sc.ExpectDNS == nil {
			t.Errorf("%s: no expect list", f)
		}
		if e := sc.ExpectDNS; e != nil {
			if r := verify.JudgeDNS(e, strings.NewReader(""), "", nil); r.Pass {
				t.Errorf("%s: expect_dns passes without a record", f)
			}
			if e.DomainsFile != "" {
				if _, err := os.Stat(filepath.Join(filepath.Dir(f), e.DomainsFile)); err != nil {
					t.Errorf("%s: expect_dns.domains_file: %v", f, err)
				}
			}
		}
		for _, e := range sc.Expect {
			if r := verify.Judge(e, nil, errors.New("x")); r.Pass {
				t.Errorf("%s:%d: passes without a record", f, e.Line)
			}
			if e.Status == model.StatusBlocked && len(e.Methods) == 0 {
				t.Errorf("%s:%d: blocked without methods", f, e.Line)
			}
			if e.Status != model.StatusBlocked && len(e.Methods) > 0 {
				t.Errorf("%s:%d: methods with status %s", f, e.Line, e.Status)
			}
		}
	}
}

func TestLabVerifyCommand(t *testing.T) {
	c, _, err := newRootCmd().Find([]string{"lab", "verify"})
	if err != nil || c.Name() != "verify" {
		t.Fatalf("lab verify: %v", err)
	}
	for _, args := range [][]string{
		{"lab", "verify"}, // --scenario is required
		{"lab", "verify", "--scenario", "../../scenarios/seed-2015.yaml", "--parallel", "0"},
		{"lab", "verify", "--scenario", "does-not-exist.yaml"},
		{"lab", "verify", "--scenario", "../../scenarios/seed-2015.yaml", "--parallel-labs", "0"},
		{"lab", "verify", "--scenario", "../../scenarios/seed-2015.yaml", "--scenario", "../../scenarios/cdn.yaml", "--name", "abcdefghi"}, // abcdefghi1 is too long
		{"lab", "verify", "--scenario", "../../scenarios/seed-2015.yaml", "--scenario", "../../scenarios/cdn.yaml", "--state", "/tmp/x"},
		{"lab", "up", "--scenario", "../../scenarios/seed-2015.yaml", "--name", "Bad-Name"},
		{"lab", "down", "--all", "--name", "fwlab"},
	} {
		root := newRootCmd()
		root.SetArgs(args)
		root.SetOut(&discard{})
		root.SetErr(&discard{})
		if err := root.Execute(); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
