package lab

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/firewatch/firewatch/internal/lab/scenario"
)

// Status is the report of `lab status`.
type Status struct {
	Up     bool    `json:"up"`
	State  *State  `json:"state,omitempty"`
	Checks []Check `json:"checks,omitempty"`
	// Leftovers lists lab namespaces found without a state file.
	Leftovers []string `json:"leftovers,omitempty"`
}

// GetStatus reads the state in dir and runs the live checks.
func GetStatus(ctx context.Context, dir string) (*Status, error) {
	if dir == "" {
		dir = DefaultStateDir
	}
	if err := CheckPrivileges(); err != nil {
		return nil, err
	}
	st, err := LoadState(dir)
	if err == ErrNotRunning {
		left, _ := ListNamespaces()
		return &Status{Leftovers: left}, nil
	}
	if err != nil {
		return nil, err
	}
	sc, _ := scenario.Load(st.Scenario)
	checks := Health(ctx, st, sc)
	if sc == nil {
		checks = append(checks, Check{Part: "scenario " + st.Scenario, Detail: "cannot be read: hosts not checked"})
	}
	return &Status{Up: len(Failed(checks)) == 0, State: st, Checks: checks}, nil
}

// WriteSummary prints the short description of a lab that `lab up` and
// `lab status` show.
func (s *State) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "lab %q from %s\n", s.ScenarioName, s.Scenario)
	fmt.Fprintf(w, "topology: %s (censor on %s)\n", strings.Join(s.Namespaces[:len(s.Namespaces)-1], " → "), s.CensorNamespace)
	fmt.Fprintf(w, "          %s attached to %s (does not cross the censor)\n", NSOutside, NSNet)
	fmt.Fprintf(w, "inside:   %s, probe %s (%s)\n", s.InsidePrefix, s.ProbeAddr, NSInside)
	fmt.Fprintf(w, "outside:  %s (%s)\n", s.OutsideAddr, NSOutside)
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
		fmt.Fprintf(w, "host:     %-15s %s\n", ip, strings.Join(s.Hosts[ip], " "))
	}
	fmt.Fprintf(w, "trust:    public CA %s, rogue CA %s\n", s.Trust.PublicCA, s.Trust.RogueCA)
	extra := ""
	if s.Trust.RogueTrustedInside {
		extra = " (public + rogue CA)"
	}
	fmt.Fprintf(w, "          inside %s%s, outside %s\n", s.Trust.Inside, extra, s.Trust.Outside)
	if s.ControlURL != "" {
		fmt.Fprintf(w, "control:  %s\n", s.ControlURL)
	} else {
		fmt.Fprintf(w, "control:  not available\n")
	}
}
