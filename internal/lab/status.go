package lab

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/firewatch/firewatch/internal/lab/scenario"
)

// Status is the report of `lab status --name NAME`.
type Status struct {
	Name string `json:"name"`
	// StateDir is the lab's state directory.
	StateDir string  `json:"state_dir"`
	Up       bool    `json:"up"`
	State    *State  `json:"state,omitempty"`
	Checks   []Check `json:"checks,omitempty"`
	// Leftovers lists namespaces of the lab found without a state file.
	Leftovers []string `json:"leftovers,omitempty"`
}

// GetStatus reads the state of the lab called name in dir ("" means
// StateDir(name)) and runs the live checks.
func GetStatus(ctx context.Context, name, dir string) (*Status, error) {
	if name == "" {
		name = DefaultName
	}
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if dir == "" {
		dir = StateDir(name)
	}
	if err := CheckPrivileges(); err != nil {
		return nil, err
	}
	st, err := LoadState(dir)
	if err == ErrNotRunning {
		return &Status{Name: name, StateDir: dir, Leftovers: NamesFor(name).existing()}, nil
	}
	if err != nil {
		return nil, err
	}
	sc, _ := scenario.Load(st.Scenario)
	checks := Health(ctx, st, sc)
	if sc == nil {
		checks = append(checks, Check{Part: "scenario " + st.Scenario, Detail: "cannot be read: hosts not checked"})
	}
	return &Status{Name: st.Names().Lab, StateDir: dir, Up: len(Failed(checks)) == 0, State: st, Checks: checks}, nil
}

// ListStatus returns the status of every lab on the machine (List), in
// name order: each lab with a state directory checked live, each set of
// leftover namespaces as a lab that is not up.
func ListStatus(ctx context.Context) ([]*Status, error) {
	if err := CheckPrivileges(); err != nil {
		return nil, err
	}
	refs, err := List()
	if err != nil {
		return nil, err
	}
	out := make([]*Status, len(refs))
	var wg sync.WaitGroup
	for i, r := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := GetStatus(ctx, r.Name, r.StateDir)
			if err != nil {
				s = &Status{Name: r.Name, Leftovers: r.Namespaces, Checks: []Check{{Part: "state", Detail: err.Error()}}}
			} else if r.StateDir == "" {
				s.Leftovers = r.Namespaces
			}
			out[i] = s
		}()
	}
	wg.Wait()
	return out, nil
}

// WriteSummary prints the short description of a lab that `lab up` and
// `lab status` show.
func (s *State) WriteSummary(w io.Writer) {
	n := s.Names()
	fmt.Fprintf(w, "lab %s: scenario %q from %s\n", n.Lab, s.ScenarioName, s.Scenario)
	fmt.Fprintf(w, "topology: %s (censor on %s)\n", strings.Join(s.Namespaces[:len(s.Namespaces)-1], " → "), s.CensorNamespace)
	fmt.Fprintf(w, "          %s attached to %s (does not cross the censor)\n", n.Outside, n.Net)
	fmt.Fprintf(w, "inside:   %s, probe %s (%s)\n", s.InsidePrefix, s.ProbeAddr, n.Inside)
	fmt.Fprintf(w, "outside:  %s (%s)\n", s.OutsideAddr, n.Outside)
	fmt.Fprintf(w, "hops:     ")
	for i, h := range Hops {
		if i > 0 {
			fmt.Fprint(w, ", ")
		}
		fmt.Fprintf(w, "%d %s", i+1, h)
		if censor := s.CensorHop; i+1 == censor || (censor == 0 && i == 1) {
			fmt.Fprint(w, " (censor)")
		}
		if slices.Contains(s.SilentHops, i+1) {
			fmt.Fprint(w, " (no ICMP)")
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "resolvers: ISP %s (inside), public %s, authoritative %s\n", s.Resolvers.ISP, s.Resolvers.Public, s.Resolvers.Authoritative)
	ips := make([]string, 0, len(s.Hosts))
	for ip := range s.Hosts {
		ips = append(ips, ip)
	}
	sort.Slice(ips, func(i, j int) bool {
		a, _ := netip.ParseAddr(ips[i])
		b, _ := netip.ParseAddr(ips[j])
		return a.Less(b)
	})
	for _, ip := range ips {
		note := ""
		if slices.Contains(s.ControlUnreachable, ip) {
			note = " (control: unreachable: the outside vantage cannot reach it)"
		}
		fmt.Fprintf(w, "host:     %-15s %s%s\n", ip, strings.Join(s.Hosts[ip], " "), note)
	}
	fmt.Fprintf(w, "trust:    public CA %s, rogue CA %s (trusted by nobody), trusted rogue CA %s\n", s.Trust.PublicCA, s.Trust.RogueCA, s.Trust.RogueTrustedCA)
	extra := ""
	if s.Trust.RogueTrustedInside {
		extra = " (public + trusted rogue CA)"
	}
	fmt.Fprintf(w, "          inside %s%s, outside %s\n", s.Trust.Inside, extra, s.Trust.Outside)
	if s.ControlDown {
		fmt.Fprintf(w, "control:  %s, down (control: down): nothing listens\n", s.ControlURL)
	} else if s.ControlURL != "" {
		fmt.Fprintf(w, "control:  %s\n", s.ControlURL)
	} else {
		fmt.Fprintf(w, "control:  not available\n")
	}
}
