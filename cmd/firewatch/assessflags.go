package main

import (
	"fmt"
	"os"

	"github.com/firewatch/firewatch/internal/assess"
	"github.com/firewatch/firewatch/internal/control"
	"github.com/firewatch/firewatch/internal/geo"
	"github.com/firewatch/firewatch/internal/probe"
	"github.com/firewatch/firewatch/internal/runner"
)

// assessFlags are the verdict's flags, embedded in probeFlags: the control
// to compare with, the ASN table and the retests.
type assessFlags struct {
	control      string
	controlToken string
	asnDB        string
	retests      int
}

// registerAssess adds --control, --control-token, --asn-db and --retests.
func (f *assessFlags) registerAssess(fs interface {
	StringVar(*string, string, string, string)
	IntVar(*int, string, int, string)
}) {
	fs.StringVar(&f.control, "control", os.Getenv(control.EnvURL), "URL of the control (the outside vantage) to compare with (default $"+control.EnvURL+"); without one the verdict is weaker")
	fs.StringVar(&f.controlToken, "control-token", "", "bearer token of the control (default $"+control.EnvToken+")")
	fs.StringVar(&f.asnDB, "asn-db", "", "iptoasn TSV table (ip2asn-v4.tsv format) for the probe's country and network (default $"+geo.EnvVar+")")
	fs.IntVar(&f.retests, "retests", assess.DefaultRetests, "measure a target that looks blocked this many more times (with a control)")
}

// assessor wraps measure (the probe) into the full assessment: control,
// verdict, retests, country and network.
func (f *assessFlags) assessor(p probe.Measurer, serial bool) (runner.MeasureFunc, error) {
	db, err := geo.OpenDefault(f.asnDB)
	if err != nil {
		// A missing table never stops a run: country and AS stay unknown.
		fmt.Fprintf(os.Stderr, "firewatch: %v (country and network unknown)\n", err)
		db = nil
	}
	a := &assess.Assessor{Probe: p, Geo: db, Retests: f.retests, Serial: serial}
	if f.retests <= 0 {
		a.Retests = -1
	}
	if f.control != "" {
		tok := f.controlToken
		if tok == "" {
			tok = os.Getenv(control.EnvToken)
		}
		a.Control = &control.Client{URL: f.control, Token: tok}
	}
	return a.Assess, nil
}
