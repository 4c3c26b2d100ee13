package emunet

import (
	"context"
	"io/fs"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/scenarios"
)

// TestHTTP3 checks the records behind quic-block.yaml's verdicts: the lab's
// https hosts serve HTTP/3 over the emulated UDP and advertise it, the
// probe and the control both measure it, and the censor's quic-block rule
// drops the blocked site's datagrams only.
func TestHTTP3(t *testing.T) {
	t.Parallel()
	b, err := fs.ReadFile(scenarios.FS, "quic-block.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.Parse("quic-block.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	n := startNet(t, sc)
	check, err := n.Checker(CheckOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	quic := func(m *model.Measurement) (hs, h3 []model.Step) {
		for _, s := range m.Steps {
			switch s.Operation {
			case model.OpQUICHandshake:
				hs = append(hs, s)
			case model.OpHTTP3:
				h3 = append(h3, s)
			}
		}
		return hs, h3
	}
	for _, tc := range []struct {
		target  string
		blocked bool
	}{{"https://www.healthy.example/", false}, {"https://www.video.example/", true}} {
		ms, err := check(ctx, scenario.Expect{Target: tc.target})
		if err != nil || len(ms) != 1 || ms[0].Control == nil {
			t.Fatalf("%s: %v, %d records", tc.target, err, len(ms))
		}
		in, ctl := ms[0], ms[0].Control
		chs, ch3 := quic(ctl)
		if len(chs) != 1 || chs[0].Failure != nil || !chs[0].TLS.Verified || len(ch3) != 1 || ch3[0].HTTP.Status != 200 {
			t.Errorf("%s: the control's HTTP/3 should work: %+v %+v", tc.target, chs, ch3)
		}
		ihs, ih3 := quic(in)
		if len(ihs) != 1 {
			t.Fatalf("%s: want one QUIC handshake inside, got %+v", tc.target, ihs)
		}
		if tc.blocked {
			if f := ihs[0].Failure; f == nil || *f != failure.GenericTimeout || len(ih3) != 0 {
				t.Errorf("%s: inside the QUIC handshake should time out: %+v %+v", tc.target, ihs, ih3)
			}
		} else if ihs[0].Failure != nil || len(ih3) != 1 || ih3[0].HTTP.Status != 200 || ih3[0].HTTP.Title != "www.healthy.example" {
			t.Errorf("%s: inside HTTP/3 should work: %+v %+v", tc.target, ihs, ih3)
		}
	}
}
