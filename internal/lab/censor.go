package lab

import (
	"context"
	"log"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/firewatch/firewatch/internal/lab/censor"
	"github.com/firewatch/firewatch/internal/lab/scenario"
)

// censorReadyFile is created in the state directory once the censor's rules
// are in place.
const censorReadyFile = "censor.ready"

// runCensor runs the censor engine on the scenario's censor router, between
// its two interfaces.
func runCensor(ctx context.Context, dir string, st *State, sc *scenario.Scenario, lg *log.Logger) error {
	cas, err := LoadCAs(dir)
	if err != nil {
		return err
	}
	ready := filepath.Join(dir, censorReadyFile)
	_ = os.Remove(ready)
	defer os.Remove(ready)
	r := st.Names().RouterAt(st.CensorHop)
	lg.Printf("censor on %s (hop %d): %d rules between %s and %s", r.NS, r.Hop, len(sc.Censor), r.InsideIface, r.OutsideIface)
	return censor.Run(ctx, censor.Config{
		Rules:          sc.Censor,
		Hosts:          sc.Hosts,
		InsideIface:    r.InsideIface,
		OutsideIface:   r.OutsideIface,
		InsidePrefixes: []netip.Prefix{InsidePrefix},
		RogueCA:        cas.Rogue,
		RogueTrustedCA: cas.RogueTrusted,
		Seed:           st.Seed,
		Log:            lg.Writer(),
		Ready: func() {
			if err := os.WriteFile(ready, []byte("ready\n"), 0o644); err != nil {
				lg.Printf("ready file: %v", err)
			}
			lg.Printf("rules in place")
		},
	})
}
