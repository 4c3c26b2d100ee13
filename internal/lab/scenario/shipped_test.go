package scenario

import (
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/scenarios"
)

var update = flag.Bool("update", false, "rewrite testdata/shipped/*.json from the current parser")

// TestShippedScenarios parses every shipped scenario and compares the result
// with testdata/shipped/NAME.json, so that a change of the parser that
// changes what a scenario means shows up here (go test -update rewrites them).
func TestShippedScenarios(t *testing.T) {
	names, err := fs.Glob(scenarios.FS, "*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no shipped scenarios: %v", err)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			s, err := ParseFS(scenarios.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(s, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", "shipped", strings.TrimSuffix(name, ".yaml")+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s parses differently from %s; run go test -update and review the diff", name, golden)
			}
		})
	}
}
