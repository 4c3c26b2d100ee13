package verdict

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/firewatch/firewatch/internal/model"
)

// FuzzDecide feeds arbitrary records (as JSON, e.g. uploaded to a collector)
// to Decide: it must never panic and always give a known status.
func FuzzDecide(f *testing.F) {
	dirs, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, d := range dirs {
		in, _ := os.ReadFile(filepath.Join(d, "inside.json"))
		ctl, _ := os.ReadFile(filepath.Join(d, "control.json"))
		f.Add(in, ctl)
	}
	f.Fuzz(func(t *testing.T, inJSON, ctlJSON []byte) {
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
