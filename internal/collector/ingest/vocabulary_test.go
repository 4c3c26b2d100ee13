package ingest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/firewatch/firewatch/internal/model"
)

// TestGoldenRecordsValidate: every record the probe's and the verdict's golden
// files hold — what the classifier, the probe and the verdict produce — is in
// the vocabularies the validator reads (failure strings, operations, statuses,
// methods, vantages), so ingest accepts it.
func TestGoldenRecordsValidate(t *testing.T) {
	files, _ := filepath.Glob("../../probe/testdata/golden/*.json")
	more, _ := filepath.Glob("../../verdict/testdata/*/*.json")
	n := 0
	for _, f := range append(files, more...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m model.Measurement
		if err := json.Unmarshal(b, &m); err != nil || m.Schema == "" {
			continue // not a whole record (a verdict golden file)
		}
		n++
		m.ID = "golden" // golden files name records by path; ids are no vocabulary
		if m.Control != nil {
			m.Control.ID = "golden-control"
		}
		if err := Validate(&m); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if n < 3 {
		t.Fatalf("found %d golden records", n)
	}
}
