package verdict

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/firewatch/firewatch/internal/model"
)

// maxFuzzRecords bounds the two records FuzzDecide decodes, together. The
// golden cases' indented files (4 KB each) used to be the seeds as they
// are: each new input took the fuzzer seconds to minimize, and it managed
// 33 executions a second. Compacted they are about 2 KB.
const maxFuzzRecords = 12 << 10

// FuzzDecide feeds arbitrary records (as JSON, e.g. uploaded to a collector)
// to Decide: it must never panic and always give a known status. The seeds
// are the golden cases, compacted.
func FuzzDecide(f *testing.F) {
	dirs, _ := filepath.Glob(filepath.Join("testdata", "*"))
	compact := func(path string) []byte {
		b, _ := os.ReadFile(path)
		var buf bytes.Buffer
		if json.Compact(&buf, b) != nil {
			return b
		}
		return buf.Bytes()
	}
	for _, d := range dirs {
		f.Add(compact(filepath.Join(d, "inside.json")), compact(filepath.Join(d, "control.json")))
	}
	f.Fuzz(func(t *testing.T, inJSON, ctlJSON []byte) {
		if len(inJSON)+len(ctlJSON) > maxFuzzRecords {
			return
		}
		var in, ctl model.Measurement
		if json.Unmarshal(inJSON, &in) != nil {
			return
		}
		var ctlp *model.Measurement
		if json.Unmarshal(ctlJSON, &ctl) == nil {
			ctlp = &ctl
		}
		r := Decide(&in, ctlp, Options{})
		switch r.Status {
		case model.StatusOK, model.StatusBlocked, model.StatusDown, model.StatusError:
		default:
			t.Fatalf("status %q", r.Status)
		}
		if len(r.Methods) != len(r.Verdict.Evidence) {
			t.Fatalf("%d methods, %d evidence", len(r.Methods), len(r.Verdict.Evidence))
		}
	})
}

func BenchmarkDecide(b *testing.B) {
	for _, name := range []string{"ok_same", "dns_inconsistent", "tls_mitm_mail"} {
		c := caseOf(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Decide(c.in, c.ctl, Options{})
			}
		})
	}
}
